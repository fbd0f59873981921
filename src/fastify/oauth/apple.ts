/**
 * Sign in with Apple's client secret: not a fixed string but a short-lived ES256 JWT the application signs
 * with the private key Apple gave it (`iss` the team id, `sub` the client id, `aud` Apple, `kid` the key id).
 * It is made when first needed and made again before it expires, so a long-running server never sends a
 * stale one.
 *
 * @module
 */
import { createSigner } from 'fast-jwt'

/** Apple's issuer, also the `aud` of the client secret. */
export const APPLE_ISSUER = 'https://appleid.apple.com'

/** How long a client secret is valid (Apple allows up to six months; a short life limits a leaked one). */
export const APPLE_SECRET_LIFETIME_S = 60 * 60

/** A secret is made again when less than this is left of it. */
const RENEW_BEFORE_S = 5 * 60

/**
 * The key Apple gave the application, from the Certificates, Identifiers & Profiles page.
 *
 * @example
 * ```ts
 * const key: AppleKey = { teamId: 'ABCDE12345', keyId: 'KEY1234567', privateKey: readFileSync('AuthKey.p8', 'utf8') }
 * ```
 */
export interface AppleKey {
  /** The team id (10 characters): the secret's `iss`. */
  teamId: string
  /** The key id: the secret's `kid` header. */
  keyId: string
  /** The PKCS #8 PEM of the P-256 private key (the `.p8` file). */
  privateKey: string
}

/**
 * Makes and renews the client secret for one Services ID.
 *
 * @example
 * ```ts
 * const secret = new AppleClientSecret('com.example.web', key)
 * secret.current() // 'eyJhbGciOiJFUzI1NiIsImtpZCI6...'
 * ```
 */
export class AppleClientSecret {
  readonly #sign: (payload: Record<string, unknown>) => string
  readonly #claims: { iss: string; sub: string; aud: string }
  readonly #now: () => number
  #value: { jwt: string; exp: number } | null = null

  /** Throws a `TypeError` at once when the key cannot sign, rather than at the first sign-in. */
  constructor(clientId: string, key: AppleKey, now: () => number = Date.now) {
    this.#claims = { iss: key.teamId, sub: clientId, aud: APPLE_ISSUER }
    this.#now = now
    try {
      this.#sign = createSigner({ key: key.privateKey, algorithm: 'ES256', kid: key.keyId })
      this.current()
    } catch (err) {
      throw new TypeError('fastify-users: the Apple `privateKey` cannot sign ES256 (a P-256 PKCS #8 PEM)', {
        cause: err,
      })
    }
  }

  /** A secret with at least five minutes left, made now if the last one has less. */
  current(): string {
    const now = Math.floor(this.#now() / 1000)
    if (!this.#value || this.#value.exp - now < RENEW_BEFORE_S) {
      const exp = now + APPLE_SECRET_LIFETIME_S
      this.#value = { jwt: this.#sign({ ...this.#claims, iat: now, exp }), exp }
    }
    return this.#value.jwt
  }
}
