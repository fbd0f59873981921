/**
 * A Lua script run by its SHA-1 (`EVALSHA`), loaded on first use and again after a server restart
 * (`NOSCRIPT`), so each call sends the hash rather than the script's text.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/**
 * One Lua script. Scripts run atomically on the server, which is what gives the stores their one-winner
 * semantics (N concurrent counts count N; only the lock's owner releases it).
 *
 * @example
 * ```ts
 * const incr = new RedisScript("return redis.call('INCR', KEYS[1])")
 * await incr.run(client, ['counter'], [])
 * ```
 */
export class RedisScript {
  readonly #source: string
  readonly #sha: string

  constructor(source: string) {
    this.#source = source
    this.#sha = createHash('sha1').update(source).digest('hex')
  }

  /** Runs the script with these keys and arguments; returns its reply. */
  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return client.eval(this.#source, keys.length, ...keys, ...args)
    }
  }
}
