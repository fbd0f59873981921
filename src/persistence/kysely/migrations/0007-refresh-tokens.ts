/**
 * The `refresh_tokens` table: refresh tokens of the JWT backends, keyed by the hex SHA-256 of the token
 * (never the token itself), with their family, user, credential version and lifetimes.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The refresh-token migration. Dialect-neutral: `bigint` epoch milliseconds, as everywhere in the schema;
 * the user id is stored as text, so one table serves both id types.
 *
 * @example
 * ```ts
 * const { executed } = await migrateToLatest(db) // [..., '0007-refresh-tokens'] the first time
 * ```
 */
export function refreshTokensTableMigration(names: TableNames): Migration {
  const table = names.refreshTokens
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(table)
        .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('family_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('auth_version', 'integer', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('family_created_at', 'bigint', (c) => c.notNull())
        .addColumn('family_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addColumn('ip', 'varchar(100)')
        .addColumn('user_agent', 'varchar(255)')
        .execute()
      // Ending a family, listing a user's families, and the sweep of ended families.
      await db.schema.createIndex(indexName(table, 'family_idx')).on(table).column('family_id').execute()
      await db.schema.createIndex(indexName(table, 'user_idx')).on(table).column('user_id').execute()
      await db.schema
        .createIndex(indexName(table, 'expires_idx'))
        .on(table)
        .column('family_expires_at')
        .execute()
    },
  }
}

/**
 * {@link refreshTokensTableMigration} with the default table names.
 *
 * @example
 * ```ts
 * const migrations = { '0007-refresh-tokens': refreshTokensMigration }
 * ```
 */
export const refreshTokensMigration: Migration = refreshTokensTableMigration(resolveTableNames())
