/**
 * `fastify-users/auth`: the authentication backends, free of any web framework. A backend pairs a
 * transport (where the credential travels: an HttpOnly cookie or the `Authorization: Bearer` header) with a
 * strategy (what the credential is: an opaque database session or a short-lived JWT). Build them yourself
 * to hand them to the plugin's `auth.backends`, or to authenticate requests in another framework.
 *
 * @example
 * ```ts
 * import { JwtBackend, SessionBackend } from 'fastify-users/auth'
 * import { createKyselyRepositories } from 'fastify-users/kysely'
 *
 * const repos = createKyselyRepositories(db)
 * const browser = new SessionBackend({
 *   users: repos.userRepository,
 *   sessions: repos.sessionRepository,
 *   clock: service.clock,
 *   cookieName: '__Host-app-session',
 *   requireVerified: true,
 * })
 * const api = new JwtBackend({
 *   users: repos.userRepository,
 *   denylist: repos.tokenDenylist,
 *   tokens: service.tokens,
 *   clock: service.clock,
 *   transport: 'bearer',
 *   requireVerified: true,
 *   parseId: (sub) => service.parseId(sub),
 * })
 * await app.register(fastifyUsers, { service, auth: { backends: [browser, api] } })
 * ```
 *
 * @module
 */

export {
  type ActiveCredential,
  type AuthBackend,
  type AuthBackendName,
  type AuthStrategy,
  type AuthTransport,
  authSchemeOf,
  BACKEND_SHORTHANDS,
  type CredentialCookie,
  type IssuedCredential,
  isUsable,
  type RequestCredentials,
} from './auth-backend.js'
export { AuthCache, type AuthCacheOptions } from './auth-cache.js'
export {
  type CachedRepositories,
  withCacheInvalidation,
  withDenylistInvalidation,
} from './cache-invalidation.js'
export {
  type InvalidationBus,
  type InvalidationListener,
  type InvalidationMessage,
  parseInvalidation,
} from './invalidation-bus.js'
export { JwtBackend, type JwtBackendOptions } from './jwt-backend.js'
export { isSameOriginOrTrusted, type OriginCheckInput, parseTrustedOrigins } from './origin-check.js'
export { SessionBackend, type SessionBackendOptions } from './session-backend.js'
export { generateSessionSecret, hashSessionSecret } from './session-secret.js'
