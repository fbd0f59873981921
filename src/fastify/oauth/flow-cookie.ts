/**
 * The flow cookie: what the callback needs to check the provider's answer (state, nonce, PKCE verifier),
 * where to go afterwards, and, when linking, who asked, sealed with AES-256-GCM under a key derived from
 * the secret. HttpOnly, `SameSite=Lax` (the callback is a top-level navigation from the provider), ten
 * minutes, one use: it binds the flow to the browser that started it, with no server-side state.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { Id } from '../../core/user.js'

/** What the cookie carries. */
export interface FlowState {
  provider: string
  state: string
  nonce: string | null
  verifier: string
  redirectTo: string
  /** The logged-in user who asked to link, or `null` for a sign-in. */
  linkUserId: Id | null
  /** Epoch milliseconds. */
  expiresAt: number
}

/** The cookie's lifetime: long enough to log in at the provider, short enough to limit a stolen cookie. */
export const FLOW_LIFETIME_MS = 10 * 60 * 1000

/**
 * Seals and opens flow cookies with a key derived from `secret`.
 *
 * @example
 * ```ts
 * const sealer = new FlowSealer(secret)
 * const value = sealer.seal(flow)
 * sealer.open(value) // the flow, or null when tampered
 * ```
 */
export class FlowSealer {
  readonly #key: Buffer

  constructor(secret: string) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'fastify-users', 'oauth flow cookie v1', 32))
  }

  seal(flow: FlowState): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    const body = Buffer.concat([cipher.update(JSON.stringify(flow), 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** The flow, or `null` when the value was not sealed by this key or was altered. */
  open(value: string): FlowState | null {
    try {
      const raw = Buffer.from(value, 'base64url')
      if (raw.length < 29) return null
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      return JSON.parse(text) as FlowState
    } catch {
      return null
    }
  }
}
