/**
 * A count per key in a time window, kept in one SQL row and bumped by a single upsert: the database does
 * the read-modify-write under its row lock, so N concurrent counts count N, on every instance. The mail cap
 * and the login throttle's failure counts are both this; they differ only in where their window starts.
 *
 * @module
 */
import { sql } from 'kysely'
import { supportsReturning } from './capabilities.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'

/** Where a counter's row lives and how its window runs. */
export interface WindowedCounterTable {
  /** The table, keyed by a unique `key` column. */
  table: string
  /** The integer column that counts. */
  count: string
  /** The column (milliseconds since the epoch) that the window is measured from. */
  time: string
  /**
   * `'fixed'`: the window starts at the first count and holds still; a count is outside it once the start
   * is `windowMs` old or more (the mail cap). `'sliding'`: the window runs from the latest count, which
   * moves it; a count exactly `windowMs` old still counts (the login throttle).
   */
  window: 'fixed' | 'sliding'
}

/**
 * Counts one more for `key` at `now` and answers the count in the current window (1 when the window had
 * run out, which starts a new one). One `INSERT ... ON CONFLICT DO UPDATE` (SQLite, PostgreSQL) with
 * `RETURNING`, or `INSERT ... ON DUPLICATE KEY UPDATE` and a read in the same transaction (MySQL/MariaDB,
 * no `RETURNING`; the upsert's row lock lasts until commit, so the read sees this count and no other).
 *
 * @example
 * ```ts
 * const mailCap = { table: 'mail_cap', count: 'sent', time: 'window_start', window: 'fixed' } as const
 * await countInWindow(db, mailCap, 'password-reset:ada@example.com', Date.now(), 3_600_000) // 1
 * ```
 */
export async function countInWindow(
  db: DynamicDb,
  counter: WindowedCounterTable,
  key: string,
  now: number,
  windowMs: number,
): Promise<number> {
  const cutoff = now - windowMs
  const count = sql.ref(`${counter.table}.${counter.count}`)
  const time = sql.ref(`${counter.table}.${counter.time}`)
  const expired =
    counter.window === 'fixed' ? sql<boolean>`${time} <= ${cutoff}` : sql<boolean>`${time} < ${cutoff}`
  // The count is assigned before the time: MySQL evaluates an update's assignments in order, each seeing
  // the ones before it, so the CASEs must read the old time. (SQLite and PostgreSQL read old values
  // throughout; the order is harmless there.)
  const update = {
    [counter.count]: sql<number>`CASE WHEN ${expired} THEN 1 ELSE ${count} + 1 END`,
    [counter.time]:
      counter.window === 'fixed' ? sql<number>`CASE WHEN ${expired} THEN ${now} ELSE ${time} END` : now,
  }
  const values = { key, [counter.count]: 1, [counter.time]: now }
  if (supportsReturning(db)) {
    // RETURNING reads the row as this statement left it, not as a concurrent one may have since.
    const row = await db
      .insertInto(counter.table)
      .values(values)
      .onConflict((oc) => oc.column('key').doUpdateSet(update))
      .returning(counter.count)
      .executeTakeFirstOrThrow()
    return toNumber(row[counter.count])
  }
  return db.transaction().execute(async (trx) => {
    await trx.insertInto(counter.table).values(values).onDuplicateKeyUpdate(update).execute()
    const row = await trx
      .selectFrom(counter.table)
      .select(counter.count)
      .where('key', '=', key)
      .executeTakeFirstOrThrow()
    return toNumber(row[counter.count])
  })
}
