/**
 * The Kysely implementation of the core's `LoginAttemptStore`: one row per login identifier key, counted
 * with a single upsert so that concurrent failures never lose an increment (docs/security.md, "Login throttling").
 *
 * @module
 */
import { sql } from 'kysely'
import type { LoginAttemptStore, LoginFailures } from '../../core/repositories.js'
import { detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'
import { countInWindow, type WindowedCounterTable } from './windowed-counter.js'

// The window runs from the latest failure: failures spaced just under it keep the count growing.
const LOGIN_ATTEMPTS: WindowedCounterTable = {
  table: 'login_attempts',
  count: 'failures',
  time: 'last_failure_at',
  window: 'sliding',
}

/**
 * Failed-login counters in a SQL database (the `login_attempts` table of migration `0002-login-attempts`).
 *
 * Each failure is one upsert ({@link countInWindow}) whose `CASE` restarts the count when the last failure
 * is older than the window: the database does the read-modify-write under its row lock, so N parallel
 * failures count N.
 *
 * @example
 * ```ts
 * const store = new KyselyLoginAttemptStore(db)
 * const service = new BaseUserService({ secret, userRepository, loginAttemptStore: store })
 * ```
 */
export class KyselyLoginAttemptStore implements LoginAttemptStore {
  readonly #db: DynamicDb

  constructor(db: DynamicDb) {
    this.#db = db
    // Refuses a dialect fastify-users does not support, at construction rather than at the first query.
    detectDialect(db)
  }

  async recordFailure(key: string, now: number, windowMs: number): Promise<number> {
    return countInWindow(this.#db, LOGIN_ATTEMPTS, key, now, windowMs)
  }

  async release(key: string): Promise<void> {
    // One conditional decrement: atomic like the increment, and never below zero (a success may have
    // cleared the entry meanwhile, or a new window begun).
    await this.#db
      .updateTable('login_attempts')
      .set({ failures: sql<number>`${sql.ref('failures')} - 1` })
      .where('key', '=', key)
      .where('failures', '>', 0)
      .execute()
  }

  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('login_attempts').where('key', '=', key).execute()
  }

  async failures(key: string, now: number, windowMs: number): Promise<LoginFailures | null> {
    const row = await this.#db
      .selectFrom('login_attempts')
      .select(['failures', 'last_failure_at'])
      .where('key', '=', key)
      // The same boundary as recordFailure's CASE: a failure exactly `windowMs` old still counts.
      .where('last_failure_at', '>=', now - windowMs)
      .executeTakeFirst()
    if (!row) return null
    return { count: toNumber(row.failures), lastFailureAt: toNumber(row.last_failure_at) }
  }

  async deleteExpired(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('login_attempts')
      .where('last_failure_at', '<', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
