/**
 * What a database can do, read from Kysely's adapter flags rather than from the dialect's name, so a
 * dialect that reuses an adapter (PGlite, libSQL) or a new one that declares the flag is served right.
 *
 * @module
 */
import type { Kysely } from 'kysely'

/**
 * Whether `INSERT ... RETURNING` (and, with it in every dialect Kysely ships, `ON CONFLICT`) is available:
 * PostgreSQL and SQLite yes, MySQL and MariaDB no (they use the insert id and `ON DUPLICATE KEY UPDATE`).
 *
 * @example
 * ```ts
 * const id = supportsReturning(db)
 *   ? (await db.insertInto('roles').values(row).returning('id').executeTakeFirstOrThrow()).id
 *   : (await db.insertInto('roles').values(row).executeTakeFirstOrThrow()).insertId
 * ```
 */
export function supportsReturning<DB>(db: Kysely<DB>): boolean {
  return db.getExecutor().adapter.supportsReturning
}
