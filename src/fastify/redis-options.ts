/**
 * The plugin's Redis options, apart from the code that uses them, so that the plugin's types never
 * reference ioredis' own: an application without ioredis type-checks as before.
 *
 * @module
 */

/**
 * What the `redis` option takes besides a URL: an ioredis 5 `Redis` client (one server or
 * Sentinel; not a `Cluster`, since the stores' scripts touch several keys),
 * described by shape so that applications without ioredis need not have its types.
 *
 * @example
 * ```ts
 * const redis: RedisClientLike = new Redis(process.env.REDIS_URL!)
 * ```
 */
export interface RedisClientLike {
  // Shape only: an ioredis client has both.
  evalsha: (...args: never[]) => unknown
  quit: () => Promise<unknown>
}

/**
 * The plugin's Redis options; top-level, or in the `database` group under the same names.
 *
 * @example
 * ```ts
 * await app.register(fastifyUsers, { secret, database: 'postgres://...', redis: 'redis://127.0.0.1:6379' })
 * ```
 */
export interface RedisPluginOptions {
  /**
   * Keep the short-lived shared state in Redis (or Valkey): sessions, the deny-list of logged-out access
   * tokens, login-throttle counters, mail caps, the admin lock and the per-IP rate-limit counts (unless
   * `rateLimit.redis` names another client). Users and roles stay in the SQL database. A URL
   * (`redis://`, `rediss://`) makes a client the plugin closes with the app; a client the application
   * passes is left open. Needs the `ioredis` package. With a constructed `service`, only the rate-limit
   * counts move (the service brings its own stores). Default: none, everything in the database.
   */
  redis?: string | RedisClientLike
  /** Prepended to every key the plugin writes to `redis`, so several apps share one server. Default: `'fastify-users:'`. */
  redisPrefix?: string
}
