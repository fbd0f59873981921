/**
 * The `login_attempts` table: consecutive failed password checks per login identifier, for throttling.
 * Keyed by the hex SHA-256 of the canonical identifier (never a user id, never the address itself), so
 * unknown identifiers are counted like known ones.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The second migration. Dialect-neutral: `bigint` epoch milliseconds, as everywhere in the schema.
 *
 * @example
 * ```ts
 * // migrateToLatest runs it after 0001-initial, on new and on existing databases alike:
 * const { executed } = await migrateToLatest(db) // [..., '0002-login-attempts'] the first time
 * ```
 */
export function loginAttemptsTableMigration(names: TableNames): Migration {
  const table = names.loginAttempts
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(table)
        .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
        .execute()
      // For the periodic sweep of entries whose window has passed.
      await db.schema
        .createIndex(indexName(table, 'last_failure_idx'))
        .on(table)
        .column('last_failure_at')
        .execute()
    },
  }
}

/**
 * {@link loginAttemptsTableMigration} with the default table names.
 *
 * @example
 * ```ts
 * const migrations = { '0002-login-attempts': loginAttemptsMigration }
 * ```
 */
export const loginAttemptsMigration: Migration = loginAttemptsTableMigration(resolveTableNames())
