/**
 * Builds the configured authentication backends: a shorthand name or a transport and strategy pair
 * becomes a {@link SessionBackend} or a {@link JwtBackend} on the service's repositories; a backend the
 * application built is taken as it is. Names and cookies must be unique, so each backend's routes and
 * cookie are its own.
 *
 * @module
 */
import {
  type AuthBackend,
  type AuthStrategy,
  type AuthTransport,
  BACKEND_SHORTHANDS,
  isUsable,
} from '../auth/auth-backend.js'
import type { AuthCache } from '../auth/auth-cache.js'
import { JwtBackend } from '../auth/jwt-backend.js'
import { SessionBackend } from '../auth/session-backend.js'
import { RefreshFamilySource } from '../core/refresh-families.js'
import { type RefreshTokenOptions, RefreshTokens } from '../core/refresh-tokens.js'
import type { TokenDenylist } from '../core/repositories.js'
import { serviceNotices } from '../core/service-hooks.js'
import type { BaseUser, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import type { AuthBackendEntry, AuthBackendSpec } from './options.js'

/** What the built-in backends are built on. */
export interface BackendDependencies {
  service: BaseUserService<BaseUser, Role, unknown>
  /** The deny-list of logged-out JWTs; required when a JWT strategy is configured. */
  tokenDenylist: TokenDenylist | undefined
  /** Whether cookies are `Secure` (then their names get the `__Host-` prefix). */
  cookieSecure: boolean
  session: { idleTimeoutSeconds?: number; absoluteTimeoutSeconds?: number } | undefined
  /** The authentication cache of the built-in backends; only with repositories that invalidate it. */
  cache?: AuthCache | undefined
  /**
   * Refresh tokens of the JWT strategy: lifetimes, or `false` for none. Default: on (with their default
   * lifetimes) when the service has a `refreshTokenStore`.
   */
  refreshToken?: RefreshTokenOptions | false | undefined
}

/** The refresh tokens of the JWT backends, or `undefined` when off or without a store. */
function refreshTokensOf(deps: BackendDependencies): RefreshTokens | undefined {
  const { service } = deps
  const store = service.refreshTokenStore
  if (deps.refreshToken === false || !store) return undefined
  const requireVerified = service.requireVerificationOnRegistration
  return new RefreshTokens({
    store,
    users: service.userRepository,
    clock: service.clock,
    logger: service.logger,
    parseId: (id) => service.parseId(id),
    isUsable: (user, authVersion) => isUsable(user, authVersion, requireVerified),
    notifyReuse: (user) =>
      serviceNotices(service).deliver('refresh-token-reuse', user, () =>
        service.sendRefreshTokenReuseNotice(user),
      ),
    options: deps.refreshToken,
  })
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/
const TRANSPORTS: readonly AuthTransport[] = ['cookie', 'bearer']
const STRATEGIES: readonly AuthStrategy[] = ['session', 'jwt']

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

function isBackend(entry: object): entry is AuthBackend {
  const candidate = entry as Partial<Record<keyof AuthBackend, unknown>>
  return (
    typeof candidate.login === 'function' &&
    typeof candidate.authenticate === 'function' &&
    typeof candidate.logout === 'function'
  )
}

function specOf(entry: AuthBackendEntry, option: string): AuthBackendSpec {
  if (typeof entry === 'string') {
    const pair = Object.hasOwn(BACKEND_SHORTHANDS, entry) ? BACKEND_SHORTHANDS[entry] : undefined
    if (!pair)
      fail(
        option,
        `must be one of ${Object.keys(BACKEND_SHORTHANDS)
          .map((b) => `'${b}'`)
          .join(', ')}`,
      )
    return { name: entry, ...pair }
  }
  const spec = entry as AuthBackendSpec
  if (!TRANSPORTS.includes(spec.transport)) fail(`${option}.transport`, "must be 'cookie' or 'bearer'")
  if (!STRATEGIES.includes(spec.strategy)) fail(`${option}.strategy`, "must be 'session' or 'jwt'")
  if (spec.cookieName !== undefined && spec.transport !== 'cookie') {
    fail(`${option}.cookieName`, "is only for the 'cookie' transport")
  }
  const shorthand = Object.entries(BACKEND_SHORTHANDS).find(
    ([, pair]) => pair.transport === spec.transport && pair.strategy === spec.strategy,
  )?.[0]
  return { ...spec, name: spec.name ?? shorthand ?? `${spec.strategy}-${spec.transport}` }
}

/**
 * The backends, in order. Throws `TypeError` naming the option on an unknown name, a bad pair, a name or a
 * cookie used twice, or a strategy whose storage is missing.
 *
 * @example
 * ```ts
 * buildBackends(['session', { name: 'api', transport: 'bearer', strategy: 'jwt' }], deps).map((b) => b.name)
 * // ['session', 'api']
 * ```
 */
export function buildBackends(
  entries: readonly AuthBackendEntry[],
  deps: BackendDependencies,
): AuthBackend[] {
  const { service } = deps
  const prefix = deps.cookieSecure ? '__Host-' : ''
  const names = new Set<string>()
  const cookies = new Set<string>()
  // One collaborator for every JWT backend: a family is found by its token, whichever backend issued it.
  const refresh = refreshTokensOf(deps)
  const backends = entries.map((entry, i): AuthBackend => {
    const option = `auth.backends[${i}]`
    if (typeof entry !== 'string' && (typeof entry !== 'object' || entry === null)) {
      fail(option, 'must be a backend name, { transport, strategy }, or an AuthBackend')
    }
    if (typeof entry === 'object' && isBackend(entry)) return entry
    const spec = specOf(entry, option)
    const name = spec.name ?? ''
    let cookieName: string | undefined
    if (spec.transport === 'cookie') {
      const preferred = `${prefix}fastify-users-${spec.strategy === 'session' ? 'session' : 'token'}`
      cookieName = spec.cookieName ?? (cookies.has(preferred) ? `${prefix}fastify-users-${name}` : preferred)
      cookies.add(cookieName)
    }
    const requireVerified = service.requireVerificationOnRegistration
    if (spec.strategy === 'session') {
      const sessions = service.sessionRepository
      if (!sessions) {
        fail(option, 'uses the session strategy, which needs the service to have a `sessionRepository`')
      }
      const backend = new SessionBackend({
        name,
        transport: spec.transport,
        users: service.userRepository,
        sessions,
        clock: service.clock,
        cookieName,
        idleTimeoutSeconds: deps.session?.idleTimeoutSeconds,
        absoluteTimeoutSeconds: deps.session?.absoluteTimeoutSeconds,
        requireVerified,
        cache: deps.cache,
      })
      // The session list leaves out what this backend would refuse as idle.
      service.sessions.setIdleTimeout(backend.idleTimeoutMs / 1000)
      return backend
    }
    if (!deps.tokenDenylist) {
      fail(
        option,
        'uses the JWT strategy, which needs `auth.tokenDenylist` or a `database` to keep logouts in',
      )
    }
    return new JwtBackend({
      name,
      transport: spec.transport,
      users: service.userRepository,
      denylist: deps.tokenDenylist,
      tokens: service.tokens,
      clock: service.clock,
      lifetimeSeconds: service.tokenLifetimes.access,
      cookieName,
      requireVerified,
      parseId: (sub) => service.parseId(sub),
      refresh,
      cache: deps.cache,
    })
  })
  for (const [i, backend] of backends.entries()) {
    if (typeof backend.name !== 'string' || !NAME.test(backend.name)) {
      fail(
        `auth.backends[${i}].name`,
        'must be 1 to 64 letters, digits or -, starting with a letter or digit',
      )
    }
    if (names.has(backend.name)) {
      fail(`auth.backends[${i}].name`, `'${backend.name}' is used twice: give each backend its own name`)
    }
    names.add(backend.name)
  }
  const jwt = backends.filter((b): b is JwtBackend => b instanceof JwtBackend && b.refreshTokens === refresh)
  const store = service.refreshTokenStore
  if (refresh && store && deps.tokenDenylist && jwt.length > 0) {
    // The families join the session list, ended on the deny-list these backends check, for as long as
    // the longest-lived of their access tokens.
    const longest = Math.max(...jwt.map((b) => b.lifetimeSeconds))
    service.sessions.addSource(
      new RefreshFamilySource({
        store,
        users: service.userRepository,
        denylist: deps.tokenDenylist,
        now: () => service.clock.now(),
        accessTokenMs: (longest + service.tokens.clockToleranceSeconds) * 1000,
      }),
    )
  }
  const allCookies = backends.map((b) => b.cookieName).filter((c): c is string => c !== null)
  if (new Set(allCookies).size !== allCookies.length) {
    fail('auth.backends', 'use one cookie name twice: give each cookie backend its own cookie')
  }
  return backends
}
