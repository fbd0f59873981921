/**
 * The Kysely implementation of the core's `MailCapStore`: one row per (kind, address) key, counted with a
 * single upsert so that concurrent mails never lose an increment, across every instance on the database.
 *
 * @module
 */
import { sql } from 'kysely'
import type { MailCapStore } from '../../core/mail-cap.js'
import { supportsReturning } from './capabilities.js'
import { detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'

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
    const cutoff = now - windowMs
    const sent = sql.ref('mail_cap.sent')
    const windowStart = sql.ref('mail_cap.window_start')
    // `sent` is assigned before `window_start`: MySQL evaluates an update's assignments in order, each
    // seeing the ones before it, so both CASEs must read the old window start. (SQLite and PostgreSQL read
    // old values throughout.)
    const update = {
      sent: sql<number>`CASE WHEN ${windowStart} <= ${cutoff} THEN 1 ELSE ${sent} + 1 END`,
      window_start: sql<number>`CASE WHEN ${windowStart} <= ${cutoff} THEN ${now} ELSE ${windowStart} END`,
    }
    const values = { key, sent: 1, window_start: now }
    if (supportsReturning(this.#db)) {
      const row = await this.#db
        .insertInto('mail_cap')
        .values(values)
        .onConflict((oc) => oc.column('key').doUpdateSet(update))
        .returning('sent')
        .executeTakeFirstOrThrow()
      return toNumber(row.sent)
    }
    // No RETURNING on MySQL: the upsert's row lock lasts until commit, so the read sees this count.
    return this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('mail_cap').values(values).onDuplicateKeyUpdate(update).execute()
      const row = await trx
        .selectFrom('mail_cap')
        .select('sent')
        .where('key', '=', key)
        .executeTakeFirstOrThrow()
      return toNumber(row.sent)
    })
  }

  async deleteExpired(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('mail_cap')
      .where('window_start', '<=', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
