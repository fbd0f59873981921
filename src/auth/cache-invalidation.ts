/**
 * The write points of the authentication cache: the repositories, wrapped so each write that changes what
 * authentication must see drops the cached state (here and, through the bus, on every instance) before
 * the write's caller goes on. Wrapping the repositories, not the flows, catches every writer on them: the
 * service's collaborators, the admin routes, and an application's own calls.
 *
 * @module
 */
import type {
  RoleRepository,
  SessionRepository,
  TokenDenylist,
  UserRepository,
} from '../core/repositories.js'
import type { BaseUser, Role } from '../core/user.js'
import type { AuthCache } from './auth-cache.js'
import type { InvalidationMessage } from './invalidation-bus.js'

/** The repositories the cache depends on. */
export interface CachedRepositories<U extends BaseUser, R extends Role> {
  userRepository: UserRepository<U>
  roleRepository: RoleRepository<R>
  sessionRepository: SessionRepository
  tokenDenylist: TokenDenylist
}

type Revocation = (args: unknown[]) => InvalidationMessage | null

const userOf: Revocation = (args) => ({ kind: 'user', id: String(args[0]) })
const credentialOf: Revocation = (args) => ({ kind: 'credential', id: String(args[0]) })
const everything: Revocation = () => ({ kind: 'all' })
// An entry naming its user (a refresh-token family ended) ends tokens the cache holds under other keys.
const deniedOf: Revocation = (args) => (args[2] === undefined ? credentialOf(args) : userOf(args.slice(2)))

// Which methods revoke, and what. Anything else passes through untouched.
const REVOKING: Record<keyof CachedRepositories<BaseUser, Role>, Record<string, Revocation>> = {
  // Any change to a user (password, credential version, active, verified, email, fields) is seen by
  // the next request; deletion ends them.
  userRepository: { update: userOf, delete: userOf },
  // A role assigned or revoked changes one user; a role renamed or deleted changes all its holders.
  roleRepository: { assign: userOf, revoke: userOf, update: everything, delete: everything },
  // Logout of one session, or every session of a user (log out everywhere, password change, ...).
  sessionRepository: { delete: credentialOf, deleteForUser: userOf },
  // Logout of one JWT, or every access token of a refresh-token family.
  tokenDenylist: { add: deniedOf },
}

function invalidating<T extends object>(
  target: T,
  revoking: Record<string, Revocation>,
  cache: AuthCache,
): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object)
      if (typeof value !== 'function') return value
      const revocation = typeof property === 'string' ? revoking[property] : undefined
      if (!revocation) return value.bind(object)
      return async (...args: unknown[]) => {
        // Also after a failed write: it may have reached the database before failing.
        try {
          return (await value.apply(object, args)) as unknown
        } finally {
          const message = revocation(args)
          if (message) await cache.revoke(message)
        }
      }
    },
  })
}

/**
 * The same repositories, each revoking write followed by `cache.revoke(...)` (which waits for the bus).
 *
 * @example
 * ```ts
 * const repos = withCacheInvalidation(createKyselyRepositories(db), cache)
 * await repos.userRepository.update(id, { isActive: false }) // dropped from every instance's cache
 * ```
 */
export function withCacheInvalidation<U extends BaseUser, R extends Role, T extends CachedRepositories<U, R>>(
  repositories: T,
  cache: AuthCache,
): T {
  const wrapped = { ...repositories }
  for (const [name, revoking] of Object.entries(REVOKING) as [
    keyof CachedRepositories<U, R>,
    Record<string, Revocation>,
  ][]) {
    ;(wrapped as unknown as Record<string, object>)[name] = invalidating(repositories[name], revoking, cache)
  }
  return wrapped
}

/**
 * A deny-list whose `add` (a JWT logout) drops the token from the cache, for a deny-list the application
 * built itself.
 *
 * @example
 * ```ts
 * const denylist = withDenylistInvalidation(myRedisDenylist, cache)
 * ```
 */
export function withDenylistInvalidation(denylist: TokenDenylist, cache: AuthCache): TokenDenylist {
  return invalidating(denylist, REVOKING.tokenDenylist, cache)
}
