/**
 * The Kysely implementation of the core's `MailCapStore`: one row per (kind, address) key, counted with a
 * single upsert so that concurrent mails never lose an increment, across every instance on the database.
 *
 * @module
 */
import type { MailCapStore } from '../../core/mail-cap.js'
import { detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'
import { countInWindow, type WindowedCounterTable } from './windowed-counter.js'

// A window starts with its first mail and holds still, so a burst cannot keep it open.
const MAIL_CAP: WindowedCounterTable = {
  table: 'mail_cap',
  count: 'sent',
  time: 'window_start',
  window: 'fixed',
}

/**
 * Mail counters in a SQL database (the `mail_cap` table of migration `0005-mail-cap`).
 *
 * @example
 * ```ts
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) }) // includes mailCapStore
 * ```
 */
export class KyselyMailCapStore implements MailCapStore {
  readonly #db: DynamicDb

  constructor(db: DynamicDb) {
    this.#db = db
    // Refuses a dialect fastify-users does not support, at construction rather than at the first query.
    detectDialect(db)
  }

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    return countInWindow(this.#db, MAIL_CAP, key, now, windowMs)
  }

  async deleteExpired(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('mail_cap')
      .where('window_start', '<=', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
