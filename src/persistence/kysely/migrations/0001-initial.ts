/**
 * The built-in schema: users, roles, their links, sessions and the access-token deny-list. Ids are
 * UUIDv7 strings (`varchar(36)`) or auto-increment integers, chosen when the schema is first created.
 *
 * @module
 */
import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely'
import type { IdType } from '../../../core/user.js'
import type { DatabaseDialect } from '../connect.js'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

type Db = Kysely<unknown>

/**
 * Builds the first migration for an id type, a dialect and the table names (default: `users`, `roles`...).
 *
 * @example
 * ```ts
 * const migration = initialMigration('uuid', 'sqlite', resolveTableNames({ prefix: 'auth_' }))
 * ```
 */
export function initialMigration(
  idType: IdType,
  dialect: DatabaseDialect,
  names: TableNames = resolveTableNames(),
): Migration {
  const { users, roles, userRoles, sessions, revokedTokens } = names
  // Column types differ by dialect and no Kysely capability flag names them, so the dialect decides here.
  const idColumn = (table: ReturnType<Db['schema']['createTable']>) => {
    if (idType === 'uuid') return table.addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    if (dialect === 'postgres') return table.addColumn('id', 'bigserial', (c) => c.primaryKey())
    if (dialect === 'mysql') return table.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement())
    // SQLite: only INTEGER PRIMARY KEY aliases the rowid, and AUTOINCREMENT never reuses a deleted id.
    return table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
  }
  const refType = idType === 'uuid' ? 'varchar(36)' : dialect === 'sqlite' ? 'integer' : 'bigint'
  const cascade = (table: string) => (c: ColumnDefinitionBuilder) =>
    c.notNull().references(`${table}.id`).onDelete('cascade')

  return {
    async up(db: Db) {
      await idColumn(db.schema.createTable(users))
        .addColumn('email', 'varchar(320)', (c) => c.notNull())
        .addColumn('username', 'varchar(64)')
        .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(true))
        .addColumn('is_verified', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('auth_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint(indexName(users, 'email_uq'), ['email'])
        .addUniqueConstraint(indexName(users, 'username_uq'), ['username'])
        .execute()
      await db.schema
        .createIndex(indexName(users, 'created_at_idx'))
        .on(users)
        .columns(['created_at', 'id'])
        .execute()

      await idColumn(db.schema.createTable(roles))
        .addColumn('name', 'varchar(64)', (c) => c.notNull())
        .addColumn('description', 'varchar(255)')
        .addUniqueConstraint(indexName(roles, 'name_uq'), ['name'])
        .execute()

      await db.schema
        .createTable(userRoles)
        .addColumn('user_id', refType, cascade(users))
        .addColumn('role_id', refType, cascade(roles))
        .addPrimaryKeyConstraint(indexName(userRoles, 'pk'), ['user_id', 'role_id'])
        .execute()
      await db.schema.createIndex(indexName(userRoles, 'role_idx')).on(userRoles).column('role_id').execute()

      await db.schema
        .createTable(sessions)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', refType, cascade(users))
        .addColumn('auth_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('ip', 'varchar(64)')
        .addColumn('user_agent', 'varchar(512)')
        .execute()
      await db.schema.createIndex(indexName(sessions, 'user_idx')).on(sessions).column('user_id').execute()
      await db.schema
        .createIndex(indexName(sessions, 'expires_idx'))
        .on(sessions)
        .column('expires_at')
        .execute()

      await db.schema
        .createTable(revokedTokens)
        .addColumn('jti', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex(indexName(revokedTokens, 'expires_idx'))
        .on(revokedTokens)
        .column('expires_at')
        .execute()
    },
  }
}
