/**
 * The `tokens` column of `oauth_accounts`: the provider's tokens, encrypted by the service (AES-256-GCM
 * under a key derived from the secret), when the application asks for them to be stored; `NULL` otherwise.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import { resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The provider-tokens migration.
 *
 * @example
 * ```ts
 * const { executed } = await migrateToLatest(db) // [..., '0011-oauth-tokens'] the first time
 * ```
 */
export function oauthTokensColumnMigration(names: TableNames): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable(names.oauthAccounts).addColumn('tokens', 'text').execute()
    },
  }
}

/**
 * {@link oauthTokensColumnMigration} with the default table names.
 *
 * @example
 * ```ts
 * const migrations = { '0011-oauth-tokens': oauthTokensMigration }
 * ```
 */
export const oauthTokensMigration: Migration = oauthTokensColumnMigration(resolveTableNames())
