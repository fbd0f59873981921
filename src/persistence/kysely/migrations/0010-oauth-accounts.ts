/**
 * The `oauth_accounts` table: identity-provider accounts linked to users, one row per (provider, subject).
 * Deleting a user deletes their links.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { IdType } from '../../../core/user.js'
import type { DatabaseDialect } from '../connect.js'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The provider-links migration, for the id type the schema was first created with.
 *
 * @example
 * ```ts
 * const { executed } = await migrateToLatest(db) // [..., '0010-oauth-accounts'] the first time
 * ```
 */
export function oauthAccountsTableMigration(
  idType: IdType,
  dialect: DatabaseDialect,
  names: TableNames,
): Migration {
  const table = names.oauthAccounts
  // The same type as the users' id column of 0001-initial.
  const refType = idType === 'uuid' ? 'varchar(36)' : dialect === 'sqlite' ? 'integer' : 'bigint'
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(table)
        .addColumn('provider', 'varchar(64)', (c) => c.notNull())
        // Subjects are opaque provider strings; OpenID Connect caps `sub` at 255 ASCII characters.
        .addColumn('subject', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', refType, (c) => c.notNull().references(`${names.users}.id`).onDelete('cascade'))
        .addColumn('email', 'varchar(320)')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint(indexName(table, 'pk'), ['provider', 'subject'])
        .execute()
      await db.schema.createIndex(indexName(table, 'user_idx')).on(table).column('user_id').execute()
    },
  }
}

/**
 * {@link oauthAccountsTableMigration} with the default table names and UUID ids.
 *
 * @example
 * ```ts
 * const migrations = { '0010-oauth-accounts': oauthAccountsMigration }
 * ```
 */
export const oauthAccountsMigration: Migration = oauthAccountsTableMigration(
  'uuid',
  'sqlite',
  resolveTableNames(),
)
