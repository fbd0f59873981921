/**
 * The JWT backends: a short-lived access token (HS256, audience `fastify-users:access`, `typ: at+jwt`)
 * sent as a Bearer token (`jwt`) or in an HttpOnly cookie (`jwt-cookie`). Unlike most JWT setups, logout
 * and every "end all credentials" event work: each token carries the user's credential version, checked
 * on every request, and logout puts the token's `jti` on a shared deny-list until it expires (plus the verification
 * clock tolerance, during which it would still be accepted). With refresh tokens, each access token also
 * carries its family (claim `fam`): ending the family (logout, or the session list) denies the family, and
 * with it every access token of that login.
 *
 * @module
 */

import { refreshFamilyDenyKey } from '../core/refresh-families.js'
import type { RefreshTokens } from '../core/refresh-tokens.js'
import type { TokenDenylist, UserRepository } from '../core/repositories.js'
import type { BaseUser, Id } from '../core/user.js'
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import { InvalidTokenError } from '../kernel/errors.js'
import { type TokenCodec, tokenPurposes } from '../tokens/token-codec.js'
import type {
  ActiveCredential,
  AuthBackend,
  AuthTransport,
  IssuedCredential,
  RequestCredentials,
} from './auth-backend.js'
import { isUsable } from './auth-backend.js'
import type { AuthCache } from './auth-cache.js'

/** Options of {@link JwtBackend}. */
export interface JwtBackendOptions<U extends BaseUser> {
  users: UserRepository<U>
  denylist: TokenDenylist
  tokens: TokenCodec
  clock: Clock
  /** Names the backend among several. Default: `'jwt'` on the bearer transport, `'jwt-cookie'` on the cookie one. */
  name?: string
  /** Access token lifetime in seconds. Default: `900` (15 min). */
  lifetimeSeconds?: number
  /** `'bearer'` reads only the `Authorization` header; `'cookie'` reads only the cookie. */
  transport: AuthTransport
  /** The cookie name, for the cookie transport. */
  cookieName?: string
  /** Whether unverified users are refused. */
  requireVerified: boolean
  /** Parses the `sub` claim into an id of the repository's type, or `null`. */
  parseId: (sub: string) => Id | null
  /**
   * Refresh tokens: given, a login also issues a refresh token (in the body on the Bearer transport, in
   * its own cookie on the cookie transport) and {@link JwtBackend.refresh} rotates it. Default: none.
   */
  refresh?: RefreshTokens<U> | undefined
  /**
   * The authentication cache: the deny-list and user lookups of a cached token are skipped (the signature
   * is still checked on every request). Only sound when every revoking write goes through repositories
   * wrapped by `withCacheInvalidation`. Default: none.
   */
  cache?: AuthCache
}

const BEARER = /^Bearer ([A-Za-z0-9_.-]+)$/

/**
 * Access tokens checked on every request against the user's current state.
 *
 * @example
 * ```ts
 * const backend = new JwtBackend({ users, denylist, tokens, clock, transport: 'bearer', requireVerified: true, parseId })
 * ```
 */
export class JwtBackend<U extends BaseUser = BaseUser> implements AuthBackend<U> {
  readonly name: string
  readonly cookieName: string | null
  readonly lifetimeSeconds: number
  /** The refresh token's cookie on the cookie transport with refresh tokens, else `null`. */
  readonly refreshCookieName: string | null
  /** The refresh tokens, when on. */
  readonly refreshTokens: RefreshTokens<U> | null
  readonly #users: UserRepository<U>
  readonly #denylist: TokenDenylist
  readonly #tokens: TokenCodec
  readonly #clock: Clock
  readonly #requireVerified: boolean
  readonly #parseId: (sub: string) => Id | null
  readonly #cache: AuthCache | undefined

  constructor(options: JwtBackendOptions<U>) {
    if (options.transport !== 'cookie' && options.transport !== 'bearer')
      throw new TypeError("fastify-users: a JWT backend's transport must be 'cookie' or 'bearer'")
    this.name = options.name ?? (options.transport === 'cookie' ? 'jwt-cookie' : 'jwt')
    if (options.transport === 'cookie' && !options.cookieName)
      throw new TypeError('fastify-users: the jwt-cookie backend needs a cookie name')
    this.cookieName = options.transport === 'cookie' ? (options.cookieName ?? null) : null
    this.lifetimeSeconds = options.lifetimeSeconds ?? 900
    this.#users = options.users
    this.#denylist = options.denylist
    this.#tokens = options.tokens
    this.#clock = options.clock
    this.#requireVerified = options.requireVerified
    this.#parseId = options.parseId
    this.refreshTokens = options.refresh ?? null
    // `__Host-` cookies must have `Path=/`; the refresh cookie is scoped to the refresh path, so it takes
    // the `__Secure-` prefix instead (still Secure-only, and never settable from plain HTTP).
    this.refreshCookieName =
      this.refreshTokens && this.cookieName
        ? `${this.cookieName.replace(/^__Host-/, '__Secure-')}-refresh`
        : null
    this.#cache = options.cache
  }

  async login(user: U, request: RequestCredentials = {}): Promise<IssuedCredential> {
    const refresh = this.refreshTokens ? await this.refreshTokens.issue(user, request) : null
    return this.#issue(user, refresh)
  }

  /**
   * Rotates a refresh token (read from `refreshToken`, the body's on the Bearer transport or the refresh
   * cookie's on the cookie transport): a new access token and a new refresh token of the same family, or
   * `null` when the token is refused (see `RefreshTokens.rotate`). `null` too when refresh tokens are off.
   */
  async refresh(
    refreshToken: unknown,
    request: RequestCredentials,
  ): Promise<{ user: U; issued: IssuedCredential } | null> {
    if (!this.refreshTokens) return null
    const rotated = await this.refreshTokens.rotate(refreshToken, request)
    if (!rotated) return null
    if (!isUsable(rotated.user, rotated.user.authVersion, this.#requireVerified)) return null
    return { user: rotated.user, issued: this.#issue(rotated.user, rotated.refresh) }
  }

  #issue(user: U, refresh: { token: string; familyId: string; expiresIn: number } | null): IssuedCredential {
    const accessToken = this.#tokens.sign(tokenPurposes.access, {
      sub: String(user.id),
      lifetimeSeconds: this.lifetimeSeconds,
      // `fam` ties the access token to its refresh family, so logging out ends the family too.
      claims: refresh ? { ver: user.authVersion, fam: refresh.familyId } : { ver: user.authVersion },
    })
    if (this.cookieName) {
      const cookie = { name: this.cookieName, value: accessToken, maxAgeSeconds: this.lifetimeSeconds }
      if (!refresh || !this.refreshCookieName) return { cookie }
      return {
        cookie,
        refreshCookie: {
          name: this.refreshCookieName,
          value: refresh.token,
          maxAgeSeconds: refresh.expiresIn,
        },
      }
    }
    if (!refresh) return { accessToken, expiresIn: this.lifetimeSeconds }
    return {
      accessToken,
      expiresIn: this.lifetimeSeconds,
      refreshToken: refresh.token,
      refreshExpiresIn: refresh.expiresIn,
    }
  }

  /** The request's token, read from this backend's transport only. */
  #tokenOf(request: RequestCredentials): string | undefined {
    // Each transport reads only its own place, so a cookie can never stand in for a Bearer token (and
    // bring CSRF exposure to the Bearer backend).
    return this.cookieName ? request.cookie : BEARER.exec(request.authorization ?? '')?.[1]
  }

  /**
   * The cached answer for `token`. Looked up by a digest of the token's exact text, before its signature
   * is checked: an entry is only ever stored under a text that passed every check (signature, purpose,
   * issuer, time), and lives no later than its `exp`, so finding that same text is as good as checking it
   * again, without fast-jwt's parsing and claim checks. A digest, not the text, so the cache holds no
   * usable token (as the session store holds no session secret).
   */
  #cached(cacheKey: string, now: number): { user: U; credential: ActiveCredential } | undefined {
    return this.#cache?.get(cacheKey, now) as { user: U; credential: ActiveCredential } | undefined
  }

  /** The cached answer, without waiting: see {@link AuthBackend.peek}. */
  peek(request: RequestCredentials): { user: U; credential: ActiveCredential } | null | undefined {
    const token = this.#tokenOf(request)
    if (!token) return null
    if (!this.#cache) return undefined
    return this.#cached(sha256(token, 'base64url'), this.#clock.now())
  }

  async authenticate(request: RequestCredentials): Promise<{ user: U; credential: ActiveCredential } | null> {
    const token = this.#tokenOf(request)
    if (!token) return null
    const now = this.#clock.now()
    const cacheKey = this.#cache ? sha256(token, 'base64url') : ''
    const cached = this.#cached(cacheKey, now)
    if (cached) return cached
    let claims: ReturnType<TokenCodec['verify']>
    try {
      claims = this.#tokens.verify(token, tokenPurposes.access)
    } catch (err) {
      if (err instanceof InvalidTokenError) return null
      throw err
    }
    const id = this.#parseId(claims.sub)
    if (id === null) return null
    const ticket = this.#cache?.ticket() ?? 0
    const family = typeof claims.fam === 'string' ? claims.fam : null
    // A token of a refresh-token family that was ended (from the session list, or by a logout) is
    // denied by its family, whatever its own id.
    const [denied, familyDenied, user] = await Promise.all([
      this.#denylist.has(claims.jti),
      family === null ? false : this.#denylist.has(refreshFamilyDenyKey(family)),
      this.#users.findById(id),
    ])
    if (denied || familyDenied || !user || !isUsable(user, claims.ver, this.#requireVerified)) return null
    const credential: ActiveCredential = {
      id: claims.jti,
      expiresAt: claims.exp * 1000,
      userId: String(user.id),
    }
    if (family !== null) credential.familyId = family
    const result = { user, credential }
    // Revoked by its jti (a logout adds the jti to the deny-list), found by the digest of its text.
    this.#cache?.set(cacheKey, String(user.id), result, credential.expiresAt, now, ticket, claims.jti)
    return result
  }

  async logout(credential: ActiveCredential): Promise<void> {
    // The codec accepts a token until `exp` plus its clock tolerance, so the entry must last that long
    // too: a token logged out in its last seconds would otherwise work again once the sweep removed it.
    const tolerance = this.#tokens.clockToleranceSeconds * 1000
    const deniedUntil = credential.expiresAt + tolerance
    const now = this.#clock.now()
    if (deniedUntil > now) await this.#denylist.add(credential.id, deniedUntil)
    if (credential.familyId) {
      // The other access tokens of this login (issued by earlier rotations) end with it: the family is
      // denied as long as the newest of them could live.
      const familyUntil = now + this.lifetimeSeconds * 1000 + tolerance
      // With the user named, an authentication cache in front drops the family's other cached tokens at once.
      await this.#denylist.add(refreshFamilyDenyKey(credential.familyId), familyUntil, credential.userId)
      if (this.refreshTokens) await this.refreshTokens.end(credential.familyId)
    }
  }
}
