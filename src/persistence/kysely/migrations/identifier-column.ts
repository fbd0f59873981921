/**
 * The one definition of "an identifier column" for migrations: a `varchar` that the database compares
 * byte for byte. Identifiers are canonicalised by the core (`foldIdentifier`: NFKC, trimmed, lower-cased)
 * before they are stored or looked up, so the database must not fold them again: MySQL's and MariaDB's
 * default collations (`utf8mb4_general_ci`, `utf8mb4_unicode_ci`, `utf8mb4_0900_ai_ci`) ignore accents and
 * case, and would make `álice@example.com` find `alice@example.com`. PostgreSQL's and SQLite's default
 * comparisons are already binary; only MySQL needs the explicit collation.
 *
 * Every migration that creates or changes an identifier-like column (email, username, role name, a token
 * or key looked up by equality) uses {@link identifierType}.
 *
 * @module
 */
import { type Expression, sql } from 'kysely'
import type { DatabaseDialect } from '../connect.js'

/** The binary collation of MySQL/MariaDB identifier columns. */
export const MYSQL_IDENTIFIER_COLLATION = 'utf8mb4_bin'

/**
 * The column type of an identifier of at most `length` characters on `dialect`: `varchar(length)`, with
 * `character set utf8mb4 collate utf8mb4_bin` on MySQL/MariaDB (whatever the database's defaults).
 *
 * @param dialect - from `detectDialect(db)`.
 * @param length - the maximum length in characters.
 * @returns a type for `addColumn` / `modifyColumn`.
 *
 * @example
 * ```ts
 * await db.schema
 *   .alterTable('users')
 *   .addColumn('pending_email', identifierType(detectDialect(db), 320))
 *   .execute()
 * ```
 */
export function identifierType(
  dialect: DatabaseDialect,
  length: number,
): Expression<unknown> | `varchar(${number})` {
  if (!Number.isSafeInteger(length) || length < 1) throw new TypeError(`invalid identifier length ${length}`)
  // A column type, which no Kysely capability flag covers: the dialect decides.
  if (dialect !== 'mysql') return `varchar(${length})`
  return sql`varchar(${sql.raw(String(length))}) character set utf8mb4 collate ${sql.raw(MYSQL_IDENTIFIER_COLLATION)}`
}
