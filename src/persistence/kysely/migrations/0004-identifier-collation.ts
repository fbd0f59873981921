/**
 * Identifier columns compare exactly on every database. Databases created before this migration took the
 * MySQL/MariaDB server's default collation for `users.email`, `users.username` and `roles.name` (accent-
 * and case-insensitive), so `álice@example.com` logged in to `alice@example.com`. This converts them, and
 * the other columns looked up by equality (session ids, token ids, throttle keys), to `utf8mb4_bin`.
 * PostgreSQL and SQLite already compare these columns byte for byte (no non-deterministic collation, no
 * `NOCASE` anywhere in the schema): nothing to do there.
 *
 * Converting can only make comparisons stricter, so no unique index can fail on existing rows; values were
 * stored canonical (lower-cased, NFKC), so every existing account keeps logging in with what it used.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { DatabaseDialect } from '../connect.js'
import { resolveTableNames, type TableKey, type TableNames } from '../table-names.js'
import { identifierType } from './identifier-column.js'

/** Table, column, length and nullability of every identifier column of the built-in schema. */
const IDENTIFIER_COLUMNS: ReadonlyArray<[table: TableKey, column: string, length: number, notNull: boolean]> =
  [
    ['users', 'email', 320, true],
    ['users', 'username', 64, false],
    ['roles', 'name', 64, true],
    ['sessions', 'id', 64, true],
    ['revokedTokens', 'jti', 64, true],
    ['loginAttempts', 'key', 64, true],
  ]

/**
 * The fourth migration: binary collation for identifier columns (MySQL/MariaDB only).
 *
 * @example
 * ```ts
 * // migrateToLatest runs it after 0003, on new and on existing databases alike:
 * const { executed } = await migrateToLatest(db) // [..., '0004-identifier-collation'] the first time
 * ```
 */
export function identifierCollationMigration(
  dialect: DatabaseDialect,
  names: TableNames = resolveTableNames(),
): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // Collations are a column-type matter no Kysely capability flag covers: the dialect decides.
      if (dialect !== 'mysql') return
      for (const [table, column, length, notNull] of IDENTIFIER_COLUMNS) {
        // MODIFY restates the whole column: keep its nullability (primary keys stay NOT NULL anyway).
        await db.schema
          .alterTable(names[table])
          .modifyColumn(column, identifierType(dialect, length), (c) => (notNull ? c.notNull() : c))
          .execute()
      }
    },
  }
}
