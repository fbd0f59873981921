/**
 * `@simplewebauthn/server`, loaded on first use: it pulls in an X.509 and ASN.1 stack that takes about
 * 26 MiB of memory, which an application that never registers a passkey should not pay at start.
 *
 * @module
 */

import { loadOnce } from '../kernel/load-once.js'

/** The `@simplewebauthn/server` module. */
export type WebAuthnServer = typeof import('@simplewebauthn/server')

/**
 * `@simplewebauthn/server`, imported once, on the first call.
 *
 * @example
 * ```ts
 * const { generateAuthenticationOptions } = await webauthn()
 * ```
 */
export const webauthn: () => Promise<WebAuthnServer> = loadOnce(() => import('@simplewebauthn/server'))
