/**
 * The `passkeys` table (WebAuthn credentials, one row per credential, deleted with their user) and the
 * `passkey_challenges` table (single-use challenges until they are taken or expire).
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { IdType } from '../../../core/user.js'
import type { DatabaseDialect } from '../connect.js'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'
import { identifierType } from './identifier-column.js'

/**
 * The passkeys migration for an id type (of the users table it references), a dialect and table names.
 * Timestamps are `bigint` epoch milliseconds, as everywhere in the schema.
 *
 * @example
 * ```ts
 * const { executed } = await migrateToLatest(db) // [..., '0009-passkeys'] the first time
 * ```
 */
export function passkeysTableMigration(
  idType: IdType,
  dialect: DatabaseDialect,
  names: TableNames,
): Migration {
  const { passkeys, passkeyChallenges, users } = names
  const refType = idType === 'uuid' ? 'varchar(36)' : dialect === 'sqlite' ? 'integer' : 'bigint'
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(passkeys)
        // The hex SHA-256 of the credential id: credential ids can be up to 1023 bytes, too long to index.
        .addColumn('id', identifierType(dialect, 64), (c) => c.primaryKey())
        .addColumn('user_id', refType, (c) => c.notNull().references(`${users}.id`).onDelete('cascade'))
        .addColumn('credential_id', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', 'bigint', (c) => c.notNull())
        .addColumn('transports', 'varchar(255)', (c) => c.notNull())
        .addColumn('name', 'varchar(400)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute()
      await db.schema.createIndex(indexName(passkeys, 'user_idx')).on(passkeys).column('user_id').execute()
      await db.schema
        .createTable(passkeyChallenges)
        // The hex SHA-256 of the challenge: a challenge is kept only as long as it is usable, but never as is.
        .addColumn('id', identifierType(dialect, 64), (c) => c.primaryKey())
        .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex(indexName(passkeyChallenges, 'expires_idx'))
        .on(passkeyChallenges)
        .column('expires_at')
        .execute()
    },
  }
}

/**
 * {@link passkeysTableMigration} with UUID ids on SQLite and the default table names.
 *
 * @example
 * ```ts
 * const migrations = { '0009-passkeys': passkeysMigration }
 * ```
 */
export const passkeysMigration: Migration = passkeysTableMigration('uuid', 'sqlite', resolveTableNames())
