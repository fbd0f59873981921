/**
 * The Kysely implementation of the core's `LoginAttemptStore`: one row per login identifier key, counted
 * with a single upsert so that concurrent failures never lose an increment (docs/security.md, "Login throttling").
 *
 * @module
 */
import { sql } from 'kysely'
import type { LoginAttemptStore, LoginFailures, LoginReservation } from '../../core/repositories.js'
import { type DatabaseDialect, detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'
import { PreparedQuery } from './prepared-query.js'
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
  readonly #dialect: DatabaseDialect
  readonly #reserveAndRead: PreparedQuery<ReserveRow>

  constructor(db: DynamicDb) {
    this.#db = db
    // Refuses a dialect fastify-users does not support, at construction rather than at the first query.
    this.#dialect = detectDialect(db)
    this.#reserveAndRead = new PreparedQuery<ReserveRow>(db, (q, p) => ({
      compile: () => reserveAndReadStatement(p).compile(q),
    }))
  }

  /**
   * On PostgreSQL one statement, one round trip (see {@link reserveAndReadStatement}); elsewhere the two
   * calls in sequence (SQLite is in-process: there is no round trip to save; MySQL has no `RETURNING`).
   */
  async reserve(
    pendingKey: string,
    key: string,
    now: number,
    inFlightWindowMs: number,
    windowMs: number,
  ): Promise<LoginReservation> {
    if (this.#dialect === 'postgres') {
      const [row] = await this.#reserveAndRead.execute([
        pendingKey,
        key,
        now,
        now - inFlightWindowMs,
        now - windowMs,
      ])
      // No count: the pending row changed between the statement's snapshot and its update, so its read
      // may have missed a failure recorded meanwhile. The two calls in sequence then decide, as without
      // this method (the statement counted nothing).
      if (row && row.in_flight !== null && row.in_flight !== undefined) {
        return {
          inFlight: toNumber(row.in_flight),
          failures:
            row.failures === null || row.failures === undefined
              ? null
              : { count: toNumber(row.failures), lastFailureAt: toNumber(row.last_failure_at) },
        }
      }
    }
    const inFlight = await this.recordFailure(pendingKey, now, inFlightWindowMs)
    try {
      return { inFlight, failures: await this.failures(key, now, windowMs) }
    } catch (err) {
      // The contract: a reservation that throws has counted nothing.
      await this.release(pendingKey).catch(() => {})
      throw err
    }
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

/** The row of {@link reserveAndReadStatement}. */
interface ReserveRow {
  in_flight: number | string | null
  failures: number | string | null
  last_failure_at: number | string | null
}

/**
 * PostgreSQL: counts one more attempt in flight under `$1` and reads the failures of `$2`, in one statement.
 * Parameters: pending key, key, now, the in-flight window's cutoff, the failures window's cutoff.
 *
 * One statement reads with the snapshot it started with, while its upsert counts on the newest version of
 * the pending row (waiting for a concurrent writer if need be). An attempt that recorded its failure and
 * then gave its reservation back between the two would be seen neither in flight nor as a failure. So
 * the upsert only counts when the row it updates is the very version the snapshot holds (`ctid`, the row
 * version's address, is the same): then every reservation given back was given back before the snapshot,
 * and the failure recorded before it is in the snapshot too. Otherwise the statement counts nothing and
 * answers no `in_flight`. A new row (no conflict) needs no check: there was no row to give a reservation
 * back into (only the sweep deletes a pending row, and only long after its last reservation).
 * The upsert is the one of `countInWindow` (a sliding window: a count exactly a window old still counts).
 */
function reserveAndReadStatement(p: (index: number) => never) {
  const table = sql.table('login_attempts')
  return sql<ReserveRow>`with seen as (
  select ctid as version from ${table} where key = ${p(0)}
), counted as (
  insert into ${table} as pending (key, failures, last_failure_at) values (${p(0)}, 1, ${p(2)})
  on conflict (key) do update set
    failures = case when pending.last_failure_at < ${p(3)} then 1 else pending.failures + 1 end,
    last_failure_at = ${p(2)}
  where pending.ctid = (select version from seen)
  returning pending.failures
)
select (select failures from counted) as in_flight, live.failures, live.last_failure_at
from (select 1) as one
left join ${table} as live on live.key = ${p(1)} and live.last_failure_at >= ${p(4)}`
}
