/**
 * The `mail_cap` table: how many mails of one kind went to one address in the current window. Keyed by
 * the hex SHA-256 of the kind and the address (never the address itself).
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The mail-cap migration. Dialect-neutral: `bigint` epoch milliseconds, as everywhere in the schema.
 *
 * @example
 * ```ts
 * const { executed } = await migrateToLatest(db) // [..., '0005-mail-cap'] the first time
 * ```
 */
export function mailCapTableMigration(names: TableNames): Migration {
  const table = names.mailCap
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(table)
        .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('sent', 'integer', (c) => c.notNull())
        .addColumn('window_start', 'bigint', (c) => c.notNull())
        .execute()
      // For the periodic sweep of counters whose window has passed.
      await db.schema.createIndex(indexName(table, 'window_idx')).on(table).column('window_start').execute()
    },
  }
}

/**
 * {@link mailCapTableMigration} with the default table names.
 *
 * @example
 * ```ts
 * const migrations = { '0005-mail-cap': mailCapMigration }
 * ```
 */
export const mailCapMigration: Migration = mailCapTableMigration(resolveTableNames())
