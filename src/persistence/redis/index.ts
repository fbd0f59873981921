/**
 * `fastify-users/redis`: the short-lived, shared state of fastify-users in Redis (or Valkey) — sessions,
 * the deny-list of logged-out access tokens, login-throttle counters, mail caps and the admin lock — so
 * that several instances of an application share it. Users and roles stay in SQL. Needs `ioredis` 5.
 *
 * @module
 */
import type { Redis } from 'ioredis'
import { RedisLoginAttemptStore, RedisMailCapStore, RedisTokenDenylist } from './redis-counters.js'
import { RedisExclusiveLock } from './redis-exclusive-lock.js'
import { RedisSessionRepository } from './redis-session-repository.js'

export { createRedisClient, REDIS_CLIENT_DEFAULTS } from './redis-client.js'
export { RedisLoginAttemptStore, RedisMailCapStore, RedisTokenDenylist } from './redis-counters.js'
export {
  type ExecutableBatch,
  execGuarded,
  guarded,
  isRedisUnavailable,
  translateRedisError,
} from './redis-errors.js'
export { RedisExclusiveLock, type RedisExclusiveLockOptions } from './redis-exclusive-lock.js'
export { RedisInvalidationBus, type RedisInvalidationBusOptions } from './redis-invalidation-bus.js'
export { RedisSessionRepository, type RedisSessionRepositoryOptions } from './redis-session-repository.js'

/** Options of {@link createRedisStores}. */
export interface RedisStoresOptions {
  /**
   * Prepended to every key, so that several applications (or test runs) share one Redis. Default:
   * `'fastify-users:'`.
   */
  prefix?: string
  /** The clock the service uses (for the deny-list's expiry). Default: `Date.now`. */
  now?: () => number
  /** Most live sessions per user; beyond it the one closest to its end is ended. Default: `1000`. */
  maxSessionsPerUser?: number
}

/** The ports {@link createRedisStores} builds; each is an option of `BaseUserService` of the same name. */
export interface RedisStores {
  sessionRepository: RedisSessionRepository
  tokenDenylist: RedisTokenDenylist
  loginAttemptStore: RedisLoginAttemptStore
  mailCapStore: RedisMailCapStore
  adminLock: RedisExclusiveLock
}

/**
 * The Redis implementations of the short-lived storage ports, on one client and one key prefix. Every key
 * expires (sessions at their absolute end, deny-list entries with their token, counters with their window).
 *
 * @throws TypeError when `prefix` is not a string or `maxSessionsPerUser` not a positive integer.
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { BaseUserService } from 'fastify-users'
 * import { createKyselyRepositories } from 'fastify-users/kysely'
 * import { createRedisStores } from 'fastify-users/redis'
 *
 * const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
 * const service = new BaseUserService({
 *   secret: process.env.USERS_SECRET!,
 *   ...createKyselyRepositories(db),
 *   ...createRedisStores(redis, { prefix: 'myapp:' }),
 * })
 * ```
 */
export function createRedisStores(client: Redis, options: RedisStoresOptions = {}): RedisStores {
  if (!client || typeof (client as { evalsha?: unknown }).evalsha !== 'function') {
    throw new TypeError('fastify-users: `createRedisStores` needs an ioredis client')
  }
  const prefix = options.prefix ?? 'fastify-users:'
  if (typeof prefix !== 'string') throw new TypeError('fastify-users: the Redis `prefix` must be a string')
  return {
    sessionRepository: new RedisSessionRepository(client, {
      prefix,
      maxSessionsPerUser: options.maxSessionsPerUser,
    }),
    tokenDenylist: new RedisTokenDenylist(client, prefix, options.now),
    loginAttemptStore: new RedisLoginAttemptStore(client, prefix),
    mailCapStore: new RedisMailCapStore(client, prefix),
    adminLock: new RedisExclusiveLock(client, { key: `${prefix}admin-lock` }),
  }
}
