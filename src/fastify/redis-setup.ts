/**
 * The plugin's Redis: the `redis` option (a URL the plugin connects to and closes, or the application's
 * ioredis client, which it leaves open), the stores built on it, and the per-IP rate-limit counts moved to it.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { createRedisClient, isRedisUrl } from '../persistence/redis/redis-client.js'
import type { RateLimitOptions } from './rate-limit.js'
import type { RedisPluginOptions } from './redis-options.js'

/** The plugin's Redis client and key prefix, once connected. */
export interface PluginRedis {
  /** The client: the application's, or the one the plugin made (and closes on `onClose`). */
  client: Redis
  prefix: string
  /** Whether the plugin made the client (and so closes it). */
  owned: boolean
}

/**
 * Connects the `redis` option (or takes the application's client) and closes a client the plugin made when
 * the app closes; `undefined` without the option.
 *
 * @throws TypeError on a `redis` that is neither a URL nor an ioredis client, or a bad `redisPrefix`.
 * @example
 * ```ts
 * const redis = await setUpRedis(fastify, { redis: 'redis://127.0.0.1:6379' })
 * redis?.client // the ioredis client every Redis store of the plugin uses
 * ```
 */
export async function setUpRedis(
  fastify: FastifyInstance,
  options: RedisPluginOptions,
): Promise<PluginRedis | undefined> {
  const { redis, redisPrefix = 'fastify-users:' } = options
  if (redis === undefined) return undefined
  if (typeof redisPrefix !== 'string' || redisPrefix.length > 100) {
    throw new TypeError('fastify-users: option `redisPrefix` must be a string of at most 100 characters')
  }
  if (typeof redis === 'string') {
    if (!isRedisUrl(redis)) {
      throw new TypeError(
        "fastify-users: option `redis` must be a URL such as 'redis://127.0.0.1:6379' or an ioredis client",
      )
    }
    const client = await createRedisClient(redis)
    fastify.addHook('onClose', async () => {
      await client.quit().catch(() => client.disconnect())
    })
    return { client, prefix: redisPrefix, owned: true }
  }
  if (!redis || typeof redis !== 'object' || typeof redis.evalsha !== 'function') {
    throw new TypeError(
      "fastify-users: option `redis` must be a URL such as 'redis://127.0.0.1:6379' or an ioredis client",
    )
  }
  return { client: redis as unknown as Redis, prefix: redisPrefix, owned: false }
}

/**
 * The `rateLimit` option with the counts in the plugin's Redis (under `<redisPrefix>rate-limit:`), unless rate limiting is off or the option
 * names its own client.
 *
 * @example
 * ```ts
 * flat.rateLimit = rateLimitWithRedis(flat.rateLimit, redis)
 * ```
 */
export function rateLimitWithRedis(
  option: RateLimitOptions | false | undefined,
  redis: PluginRedis | undefined,
): RateLimitOptions | false | undefined {
  if (!redis || option === false || (option && typeof option === 'object' && option.redis !== undefined)) {
    return option
  }
  // The counts live under the plugin's prefix too, unless the option names its own namespace.
  return { nameSpace: `${redis.prefix}rate-limit:`, ...option, redis: redis.client }
}
