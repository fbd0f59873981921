/**
 * The client the plugin makes from a `redis://` URL: bounded retries and no offline queue, so that while
 * Redis is down a request fails at once with a 503 instead of waiting in a queue that grows without end.
 *
 * @module
 */
import type { Redis, RedisOptions } from 'ioredis'

/**
 * The ioredis settings of a client made from a URL:
 * - `enableOfflineQueue: false`: while disconnected, a command fails at once (the request answers 503 with
 *   `Retry-After`) rather than queueing in memory;
 * - `maxRetriesPerRequest: 1`: a command cut off by a lost connection is retried once, then fails;
 * - `connectTimeout: 5000`, and reconnection every 50 ms to 2 s (ioredis' default strategy), forever.
 */
export const REDIS_CLIENT_DEFAULTS: Readonly<RedisOptions> = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 5000,
  lazyConnect: true,
}

const REDIS_URL = /^(redis|rediss|valkey|valkeys):\/\//

/**
 * Whether `url` names a Redis (or Valkey) server: `redis://`, `rediss://` (TLS), `valkey://`, `valkeys://`.
 *
 * @example
 * ```ts
 * isRedisUrl('valkey://127.0.0.1:6379') // true
 * ```
 */
export function isRedisUrl(url: string): boolean {
  return REDIS_URL.test(url)
}

/**
 * Connects an ioredis client to `url` (`redis://`, `rediss://` for TLS; Valkey speaks the same protocol)
 * with {@link REDIS_CLIENT_DEFAULTS}. ioredis is an optional peer dependency, loaded only here.
 *
 * @throws Error when ioredis is not installed or the server cannot be reached (the message names the
 *   option, never the password of the URL).
 * @example
 * ```ts
 * const redis = await createRedisClient('redis://127.0.0.1:6379')
 * ```
 */
export async function createRedisClient(url: string): Promise<Redis> {
  let Client: typeof import('ioredis').Redis
  try {
    Client = (await import('ioredis')).Redis
  } catch (cause) {
    throw new Error('fastify-users: option `redis` needs the `ioredis` package: npm install ioredis', {
      cause,
    })
  }
  // Valkey speaks Redis' protocol; ioredis knows only the `redis` schemes.
  const client = new Client(url.replace(/^valkey/, 'redis'), { ...REDIS_CLIENT_DEFAULTS })
  // Without a listener, ioredis prints every connection error; the failing requests already report them.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (cause) {
    client.disconnect()
    throw new Error('fastify-users: cannot connect to the Redis server of option `redis`', { cause })
  }
  return client
}
