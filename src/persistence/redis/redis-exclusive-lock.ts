/**
 * The admin lock on Redis: one key set only if absent, holding a random token, with an expiry, released
 * only by the holder of that token. A lock on a single Redis server (not Redlock over several): right for
 * serialising the rare admin removals of one application, whose instances share that server.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { type ExclusiveLock, InProcessLock } from '../../core/admin-guard.js'
import { DatabaseUnavailableError } from '../../kernel/errors.js'
import { guarded } from './redis-errors.js'
import { RedisScript } from './redis-script.js'

// KEYS: lock. ARGV: token. Deletes the key only when it still holds our token: a lock that expired and was
// taken by another instance is not released by us.
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/** Options of {@link RedisExclusiveLock}. */
export interface RedisExclusiveLockOptions {
  /** The lock's key. Default: `'fastify-users:admin-lock'`. */
  key?: string
  /** How long a holder keeps the lock at most (a crashed holder frees it then). Default: `30000` ms. */
  ttlMs?: number
  /** How long to wait for the lock before giving up with a `DatabaseUnavailableError`. Default: `10000` ms. */
  waitMs?: number
}

/**
 * An {@link ExclusiveLock} shared by every instance on one Redis server. Callers in one process queue in
 * memory first, so only one of them polls Redis.
 *
 * @throws DatabaseUnavailableError from `runExclusive` when Redis is unreachable or the lock stays taken
 *   for `waitMs`.
 * @example
 * ```ts
 * const lock = new RedisExclusiveLock(client, { key: 'myapp:admin-lock' })
 * await lock.runExclusive(async () => { /* check and write *\/ })
 * ```
 */
export class RedisExclusiveLock implements ExclusiveLock {
  readonly #client: Redis
  readonly #key: string
  readonly #ttlMs: number
  readonly #waitMs: number
  readonly #local = new InProcessLock()

  constructor(client: Redis, options: RedisExclusiveLockOptions = {}) {
    this.#client = client
    this.#key = options.key ?? 'fastify-users:admin-lock'
    this.#ttlMs = options.ttlMs ?? 30_000
    this.#waitMs = options.waitMs ?? 10_000
  }

  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#local.runExclusive(async () => {
      const token = randomUUID()
      await this.#acquire(token)
      try {
        return await fn()
      } finally {
        await guarded(() => RELEASE.run(this.#client, [this.#key], [token])).catch(() => {
          // Unreleased, the key still expires after ttlMs.
        })
      }
    })
  }

  async #acquire(token: string): Promise<void> {
    const giveUpAt = Date.now() + this.#waitMs
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      const taken = await guarded(() => this.#client.set(this.#key, token, 'PX', this.#ttlMs, 'NX'))
      if (taken === 'OK') return
      if (Date.now() >= giveUpAt) throw new DatabaseUnavailableError({ retryAfterSeconds: 2 })
      await delay(wait)
    }
  }
}
