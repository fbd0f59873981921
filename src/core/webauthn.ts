/**
 * `@simplewebauthn/server`, loaded on first use: it pulls in an X.509 and ASN.1 stack that takes about
 * 26 MiB of memory, which an application that never registers a passkey should not pay at start.
 *
 * @module
 */

/** The `@simplewebauthn/server` module. */
export type WebAuthnServer = typeof import('@simplewebauthn/server')

let loading: Promise<WebAuthnServer> | undefined

/**
 * `@simplewebauthn/server`, imported once, on the first call.
 *
 * @example
 * ```ts
 * const { generateAuthenticationOptions } = await webauthn()
 * ```
 */
export function webauthn(): Promise<WebAuthnServer> {
  loading ??= import('@simplewebauthn/server')
  return loading
}
