/**
 * Signed tokens (JWT, HS256 pinned) over fast-jwt, whose synchronous HMAC check is about ten times faster
 * than jose's WebCrypto path and never queues behind password hashes on libuv's thread pool.
 *
 * Rotation: `secret` may be a list. The first secret signs; every secret verifies. Each token names its
 * key with a `kid` (a hash of the secret, which reveals nothing about it), so verification picks the one
 * key instead of trying each in turn.
 *
 * Purpose separation (RFC 8725 §3.11-3.12): every purpose has its own audience, its own `typ` header and
 * its own key derived from the secret, so a token of one purpose can never pass as another even if one
 * check were forgotten.
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { type Clock, systemClock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import { InvalidTokenError } from '../kernel/errors.js'

/** The claims of every token this library issues. */
export interface TokenClaims {
  sub: string
  aud: string
  iss: string
  iat: number
  exp: number
  jti: string
  [claim: string]: unknown
}

/** Options of {@link TokenCodec}. */
export interface TokenCodecOptions {
  /** At least 32 bytes each. A list rotates: the first signs, all verify. */
  secret: string | readonly string[]
  /** The `iss` claim written and required. Default: `'fastify-users'`. */
  issuer?: string
  /** Injected time. Default: the system clock. */
  clock?: Clock
  /** Leeway for `exp` and `iat`, in seconds. Default: `5`; at most 60 (docs/security.md, "Tokens"). */
  clockToleranceSeconds?: number
}

/** What a token is for: selects its audience, `typ` header and key. */
export interface TokenPurpose {
  /** The `aud` claim, for example `'fastify-users:reset'`. */
  audience: string
  /** The `typ` header, for example `'reset-password+jwt'`. */
  type: string
}

/** The purposes of the tokens the library issues. */
export const tokenPurposes = {
  access: { audience: 'fastify-users:access', type: 'at+jwt' },
  verify: { audience: 'fastify-users:verify', type: 'verify-email+jwt' },
  reset: { audience: 'fastify-users:reset', type: 'reset-password+jwt' },
  /** Confirms a pending email change; mailed to the new address. */
  emailChange: { audience: 'fastify-users:email-change', type: 'email-change+jwt' },
  /** Cancels a pending email change; mailed to the current address. */
  emailChangeCancel: { audience: 'fastify-users:email-change-cancel', type: 'email-change-cancel+jwt' },
} as const satisfies Record<string, TokenPurpose>

const MIN_SECRET_BYTES = 32
const MAX_TOKEN_LENGTH = 4096
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

interface Key {
  kid: string
  secret: string
}

/** Checks the `secret` option and returns the list of secrets; throws `TypeError` on misuse. */
export function normaliseSecrets(secret: unknown): string[] {
  const secrets = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? [...secret] : null
  if (!secrets || secrets.length === 0) {
    throw new TypeError(
      'fastify-users: `secret` is required: a random string of at least 32 bytes (or a list of them for ' +
        "rotation). Generate one with: node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"",
    )
  }
  for (const s of secrets) {
    if (typeof s !== 'string' || Buffer.byteLength(s, 'utf8') < MIN_SECRET_BYTES) {
      throw new TypeError(
        `fastify-users: every \`secret\` must be a string of at least ${MIN_SECRET_BYTES} bytes (HS256 needs a ` +
          '256-bit key, RFC 8725 §3.5). Generate one with: ' +
          "node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"",
      )
    }
  }
  return secrets
}

/** How many distinct header segments {@link TokenCodec} remembers (a few per configured key). */
const KNOWN_HEADERS = 16

/**
 * Signs and verifies the library's tokens.
 *
 * @example
 * ```ts
 * const codec = new TokenCodec({ secret: process.env.USERS_SECRET! })
 * const token = codec.sign(tokenPurposes.reset, { sub: '42', lifetimeSeconds: 3600, claims: { fp: '...' } })
 * const claims = codec.verify(token, tokenPurposes.reset) // throws InvalidTokenError
 * ```
 */
export class TokenCodec {
  readonly #keys: Key[]
  readonly #issuer: string
  readonly #clock: Clock
  readonly #toleranceSeconds: number
  readonly #signers = new Map<string, (payload: Record<string, unknown>) => string>()
  readonly #verifiers = new Map<string, (token: string) => Record<string, unknown>>()
  /**
   * Header segments already resolved to a key. Every token this codec signs with a key has the same
   * header, so this saves a base64 decode and a JSON parse per verification; only headers that named a
   * configured key are kept, and only a few, so odd headers cannot grow it.
   */
  readonly #keyByHeader = new Map<string, Key>()

  constructor(options: TokenCodecOptions) {
    const secrets = normaliseSecrets(options.secret)
    this.#keys = secrets.map((secret) => ({
      kid: sha256(secret, 'base64url').slice(0, 12),
      secret,
    }))
    this.#issuer = options.issuer ?? 'fastify-users'
    this.#clock = options.clock ?? systemClock
    const tolerance = options.clockToleranceSeconds ?? 5
    if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 60) {
      throw new TypeError('fastify-users: `clockToleranceSeconds` must be between 0 and 60')
    }
    this.#toleranceSeconds = tolerance
  }

  /** The `iss` this codec writes and requires. */
  get issuer(): string {
    return this.#issuer
  }

  /**
   * Seconds past `exp` during which {@link verify} still accepts a token. Anything that must outlive a
   * token (a deny-list entry) must last until `exp` plus this.
   */
  get clockToleranceSeconds(): number {
    return this.#toleranceSeconds
  }

  /** Signs a token of the given purpose with the first secret. */
  sign(
    purpose: TokenPurpose,
    input: { sub: string; lifetimeSeconds: number; claims?: Record<string, unknown> },
  ): string {
    const key = this.#keys[0]!
    const iat = Math.floor(this.#clock.now() / 1000)
    const payload: TokenClaims = {
      ...input.claims,
      sub: input.sub,
      aud: purpose.audience,
      iss: this.#issuer,
      iat,
      exp: iat + Math.max(1, Math.floor(input.lifetimeSeconds)),
      jti: randomBytes(16).toString('base64url'),
    }
    return this.#signer(key, purpose)(payload)
  }

  /**
   * Verifies a token of the given purpose and returns its claims. Throws {@link InvalidTokenError} for
   * anything else: malformed, forged, another purpose, another issuer, expired, or issued in the future.
   */
  verify(token: unknown, purpose: TokenPurpose): TokenClaims {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new InvalidTokenError('malformed')
    }
    const key = this.#keyFor(token)
    let claims: Record<string, unknown>
    try {
      claims = this.#verifier(key, purpose)(token)
    } catch (cause) {
      throw new InvalidTokenError('signature or claims rejected', { cause })
    }
    const now = this.#clock.now() / 1000
    const exp = claims.exp
    const iat = claims.iat
    if (typeof exp !== 'number' || typeof iat !== 'number' || typeof claims.sub !== 'string') {
      throw new InvalidTokenError('missing claims')
    }
    if (now >= exp + this.#toleranceSeconds) throw new InvalidTokenError('expired')
    if (iat > now + this.#toleranceSeconds) throw new InvalidTokenError('issued in the future')
    return claims as TokenClaims
  }

  #keyFor(token: string): Key {
    const segment = token.slice(0, token.indexOf('.'))
    const known = this.#keyByHeader.get(segment)
    if (known) return known
    let kid: unknown
    try {
      const header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
      kid = header?.kid
    } catch {
      throw new InvalidTokenError('malformed header')
    }
    // Keys come only from configuration (RFC 8725 §3.10): `kid` selects among them and nothing else.
    const key = this.#keys.find((k) => k.kid === kid)
    if (!key) throw new InvalidTokenError('unknown key')
    if (this.#keyByHeader.size < KNOWN_HEADERS) this.#keyByHeader.set(segment, key)
    return key
  }

  #derivedKey(key: Key, purpose: TokenPurpose): string {
    return createHmac('sha256', key.secret).update(`fastify-users:${purpose.audience}`).digest('base64url')
  }

  #signer(key: Key, purpose: TokenPurpose) {
    const cacheKey = `${key.kid}|${purpose.audience}`
    let signer = this.#signers.get(cacheKey)
    if (!signer) {
      signer = createSigner({
        key: this.#derivedKey(key, purpose),
        algorithm: 'HS256',
        kid: key.kid,
        // fast-jwt writes `typ` from this option; its typings omit it.
        ...({ typ: purpose.type } as Record<string, unknown>),
      }) as (payload: Record<string, unknown>) => string
      this.#signers.set(cacheKey, signer)
    }
    return signer
  }

  #verifier(key: Key, purpose: TokenPurpose) {
    const cacheKey = `${key.kid}|${purpose.audience}`
    let verifier = this.#verifiers.get(cacheKey)
    if (!verifier) {
      verifier = createVerifier({
        key: this.#derivedKey(key, purpose),
        algorithms: ['HS256'],
        allowedAud: purpose.audience,
        allowedIss: this.#issuer,
        checkTyp: purpose.type,
        requiredClaims: ['sub', 'aud', 'iss', 'iat', 'exp', 'jti'],
        // Caches signature checks of recent tokens. Safe: time, revocation and the user's state are
        // checked after this on every request.
        cache: true,
        // Time is checked above with the injected clock, so tests move time instead of sleeping.
        ignoreExpiration: true,
        ignoreNotBefore: true,
      }) as (token: string) => Record<string, unknown>
      this.#verifiers.set(cacheKey, verifier)
    }
    return verifier
  }
}
