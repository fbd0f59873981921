/**
 * The plugin's authentication cache: which bus carries its invalidations, whether it is on, and its
 * subscription for the life of the app. On by default exactly when revocation can stay immediate on every
 * instance: a Redis client (pub/sub) or a PostgreSQL database URL (`LISTEN/NOTIFY`) carries the
 * invalidations, or the application declares it runs a single instance.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import { AuthCache } from '../auth/auth-cache.js'
import type { InvalidationBus } from '../auth/invalidation-bus.js'
import { PgInvalidationBus, pgCacheChannel } from '../persistence/kysely/pg-invalidation-bus.js'
import type { TableNames } from '../persistence/kysely/table-names.js'
import { RedisInvalidationBus, redisCacheChannel } from '../persistence/redis/redis-invalidation-bus.js'
import type { RedisClientLike } from './redis-options.js'

/**
 * The `cache` option: `false` turns the authentication cache off; an object tunes it.
 *
 * @example
 * ```ts
 * const cache: AuthCacheSettings = { redis: new Redis(process.env.REDIS_URL!), ttlSeconds: 5 }
 * ```
 */
export interface AuthCacheSettings {
  /** The most credentials cached per process; the least recently used go first. Default: `10000`. */
  maxEntries?: number
  /** How long a cached credential is trusted, in seconds (at most 60). Default: `5`. */
  ttlSeconds?: number
  /**
   * An ioredis client: invalidations go over Redis pub/sub (the plugin subscribes on a duplicate of it).
   * Default: none (PostgreSQL `LISTEN/NOTIFY` when `database` is a PostgreSQL URL).
   */
  redis?: RedisClientLike
  /** Another channel between the instances. Default: Redis when `redis` is given, else PostgreSQL. */
  bus?: InvalidationBus
  /**
   * Declares that one process serves the database (nothing else writes to it): the cache is then on
   * without a bus, as for SQLite. Default: `false`.
   */
  singleInstance?: boolean
}

const KEYS = new Set(['maxEntries', 'ttlSeconds', 'redis', 'bus', 'singleInstance'])
const POSTGRES_URL = /^postgres(ql)?:\/\//

function fail(fix: string): never {
  throw new TypeError(`fastify-users: option \`cache\` ${fix}`)
}

/**
 * The `cache` option with the plugin's Redis client as its bus when the application gave `redis` and set
 * no channel of its own: revocations then reach every instance that shares that Redis. Unchanged when the
 * cache is off, names its own `redis` or `bus`, or the service was constructed (its repositories are not
 * the plugin's to wrap).
 *
 * @example
 * ```ts
 * const cache = cacheOverRedis(options.cache, redis?.client, options.serviceInstance !== undefined)
 * ```
 */
export function cacheOverRedis(
  cache: AuthCacheSettings | false | undefined,
  redis: RedisClientLike | undefined,
  constructedService: boolean,
): AuthCacheSettings | false | undefined {
  if (!redis || cache === false || constructedService || cache?.redis || cache?.bus) return cache
  return { ...cache, redis }
}

/** What {@link setUpAuthCache} needs of the options. */
export interface CacheSetupOptions {
  cache?: AuthCacheSettings | false | undefined
  database?: string | Kysely<unknown> | undefined
  /** Set when the application constructed the service: its repositories cannot be wrapped. */
  constructedService: boolean
  tables: TableNames
}

/**
 * The cache, subscribed to its bus, or `undefined` when it is off. Closing the app closes its bus.
 *
 * @example
 * ```ts
 * const cache = await setUpAuthCache(fastify, { cache: { singleInstance: true }, database: url, constructedService: false, tables }, db)
 * ```
 */
export async function setUpAuthCache(
  fastify: FastifyInstance,
  options: CacheSetupOptions,
  db: Kysely<unknown> | undefined,
): Promise<AuthCache | undefined> {
  const setting = options.cache
  if (setting === false) return undefined
  if (setting !== undefined && (typeof setting !== 'object' || setting === null || Array.isArray(setting))) {
    fail('must be false or an object')
  }
  const settings: AuthCacheSettings = setting ?? {}
  for (const key of Object.keys(settings)) {
    if (!KEYS.has(key)) fail(`takes ${[...KEYS].join(', ')}; '${key}' is unknown`)
  }
  if (settings.singleInstance !== undefined && typeof settings.singleInstance !== 'boolean') {
    fail('.singleInstance must be a boolean')
  }
  // Checked even when the cache ends up off, so a typo does not wait for the day a bus is configured.
  new AuthCache({ maxEntries: settings.maxEntries, ttlSeconds: settings.ttlSeconds })
  if (options.constructedService || !db) {
    // The cache is only sound when every revoking write goes through wrapped repositories.
    if (setting !== undefined) fail('needs the plugin to build the service (not a constructed `service`)')
    return undefined
  }
  let bus = settings.bus
  if (!bus && settings.redis) {
    // The shape type keeps ioredis out of the plugin's public types; the value is an ioredis client.
    bus = new RedisInvalidationBus(settings.redis as unknown as Redis, {
      channel: redisCacheChannel(options.tables.users),
    })
  }
  if (!bus && typeof options.database === 'string' && POSTGRES_URL.test(options.database)) {
    bus = new PgInvalidationBus(db, options.database, {
      channel: pgCacheChannel(options.tables.users),
    })
  }
  if (!bus && settings.singleInstance !== true) return undefined
  const cache = new AuthCache({
    maxEntries: settings.maxEntries,
    ttlSeconds: settings.ttlSeconds,
    bus,
    logger: fastify.log,
  })
  fastify.addHook('onClose', async () => {
    await cache.close()
  })
  await cache.start()
  return cache
}
