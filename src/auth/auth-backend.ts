/**
 * The contract of an authentication backend: how a credential is issued at login, recognised on a request
 * and ended at logout. Backends take header values and return values: they know no web framework, so an
 * adapter for another framework only moves headers in and cookies out.
 *
 * @module
 */
import type { BaseUser } from '../core/user.js'

/**
 * The shorthand names of the built-in backends: `session` (a database session in a cookie), `jwt` (a JWT
 * as a Bearer token) and `jwt-cookie` (a JWT in a cookie).
 */
export type AuthBackendName = 'session' | 'jwt' | 'jwt-cookie'

/** Where a credential travels: an HttpOnly cookie, or the `Authorization: Bearer` header. */
export type AuthTransport = 'cookie' | 'bearer'

/** What a credential is: an opaque database session, or a signed JWT checked against the user's state. */
export type AuthStrategy = 'session' | 'jwt'

/**
 * The transport and strategy each shorthand name stands for.
 *
 * @example
 * ```ts
 * BACKEND_SHORTHANDS['jwt-cookie'] // { transport: 'cookie', strategy: 'jwt' }
 * ```
 */
export const BACKEND_SHORTHANDS: Readonly<
  Record<AuthBackendName, { transport: AuthTransport; strategy: AuthStrategy }>
> = {
  session: { transport: 'cookie', strategy: 'session' },
  jwt: { transport: 'bearer', strategy: 'jwt' },
  'jwt-cookie': { transport: 'cookie', strategy: 'jwt' },
}

/** What a backend reads from a request. */
export interface RequestCredentials {
  /** The `Authorization` header. */
  authorization?: string | undefined
  /** The value of the backend's cookie, if it uses one and the request has it. */
  cookie?: string | undefined
  ip?: string | undefined
  userAgent?: string | undefined
}

/** A cookie to set on the response. */
export interface CredentialCookie {
  name: string
  value: string
  /** Lifetime of the cookie; the server-side lifetime is enforced independently. */
  maxAgeSeconds: number
}

/** What a login hands to the client. */
export interface IssuedCredential {
  cookie?: CredentialCookie
  /** For the JWT backend: the Bearer token and its lifetime, returned in the login body. */
  accessToken?: string
  expiresIn?: number
  /** For the JWT backends with refresh tokens on the Bearer transport: the refresh token and its idle lifetime. */
  refreshToken?: string
  refreshExpiresIn?: number
  /** For the JWT backends with refresh tokens on the cookie transport: the refresh token's own cookie. */
  refreshCookie?: CredentialCookie
}

/** The credential a request was authenticated with, kept for logout. */
export interface ActiveCredential {
  /** The session id (hash) or the token's `jti`. */
  id: string
  /** When the credential ends anyway, in epoch milliseconds. */
  expiresAt: number
  /** The refresh-token family the credential belongs to (JWT backends with refresh tokens), ended at logout. */
  familyId?: string
  /** The user the credential proves, when the backend knows it (lets a logout drop the user's cached credentials). */
  userId?: string
}

/**
 * An authentication backend. Implement it to bring another credential (an API key, a Redis session) to
 * the plugin's `auth.backends`.
 *
 * @example
 * ```ts
 * const apiKeys: AuthBackend = {
 *   name: 'api-key',
 *   cookieName: null,
 *   async login() { throw new Error('API keys are issued elsewhere') },
 *   async authenticate(request) { return findByApiKey(request.authorization) },
 *   async logout(credential) { await revokeApiKey(credential.id) },
 * }
 * ```
 */
export interface AuthBackend<U extends BaseUser = BaseUser> {
  /**
   * Names the backend among the configured ones (in logs, and in the paths of its login routes when it is
   * not the first): letters, digits and `-`. The built-in backends default to their shorthand name.
   */
  readonly name: string
  /** The cookie this backend uses, or `null` for Bearer tokens. */
  readonly cookieName: string | null
  /** Issues a fresh credential for a user who just proved who they are. */
  login(user: U, request: RequestCredentials): Promise<IssuedCredential>
  /**
   * The user a request's credential belongs to, or `null` when it has none, or a forged, expired,
   * revoked, or outdated one, or its user is gone, inactive or (when required) unverified.
   */
  authenticate(request: RequestCredentials): Promise<{ user: U; credential: ActiveCredential } | null>
  /**
   * Optional: what {@link authenticate} would answer, when it is known without waiting for anything
   * (from memory, as the built-in backends' authentication caches know it): the result, `null` when the
   * request carries no credential of this backend, or `undefined` when only `authenticate` can tell.
   * A backend without it is always asked through `authenticate`. It must never answer differently from
   * `authenticate`: it is a shortcut, not a second policy.
   */
  peek?(request: RequestCredentials): { user: U; credential: ActiveCredential } | null | undefined
  /** Ends one credential: it is refused from the next request on, on every instance. */
  logout(credential: ActiveCredential): Promise<void>
}

/**
 * Whether a user may use a credential issued at `credentialVersion`: the account must be active, verified
 * when verification is required, and its credential version must not have moved since (a password
 * change, reset, deactivation or "log out everywhere" moves it).
 *
 * @example
 * ```ts
 * if (!isUsable(user, session.authVersion, true)) return null
 * ```
 */
export function isUsable(user: BaseUser, credentialVersion: unknown, requireVerified: boolean): boolean {
  return user.isActive && (user.isVerified || !requireVerified) && credentialVersion === user.authVersion
}

/**
 * The HTTP authentication scheme a backend's credential is sent with, as `WWW-Authenticate` names it:
 * `Bearer` for a backend without a cookie, `Cookie` for one with.
 *
 * @example
 * ```ts
 * authSchemeOf(new JwtBackend({ ...deps, transport: 'bearer' })) // 'Bearer'
 * ```
 */
export function authSchemeOf(backend: Pick<AuthBackend, 'cookieName'>): 'Bearer' | 'Cookie' {
  return backend.cookieName === null ? 'Bearer' : 'Cookie'
}
