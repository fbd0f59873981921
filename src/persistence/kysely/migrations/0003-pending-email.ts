/**
 * `users.pending_email`: the address a user asked to move to, held until a link mailed to it is opened.
 * The account keeps its current `email` (for login and mail) until then.
 *
 * @module
 */
import { type Kysely, type Migration, sql } from 'kysely'
import type { DatabaseDialect } from '../connect.js'
import { resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The third migration. Same length as `email`. On MySQL/MariaDB the column compares exactly
 * (`utf8mb4_bin`): the values are stored already normalised, and an accent- or case-folding collation would
 * let one address stand for another. Not unique: two accounts may ask for the same address, and the unique
 * index on `email` decides which one gets it when a change is confirmed.
 *
 * @example
 * ```ts
 * // migrateToLatest runs it after 0002-login-attempts:
 * const { executed } = await migrateToLatest(db) // [..., '0003-pending-email'] the first time
 * ```
 */
export function pendingEmailMigration(
  dialect: DatabaseDialect,
  names: TableNames = resolveTableNames(),
): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // A column type (charset and collation), which no Kysely capability flag covers: the dialect decides.
      if (dialect === 'mysql') {
        await sql`alter table ${sql.table(names.users)} add column pending_email varchar(320) character set utf8mb4 collate utf8mb4_bin null`.execute(
          db,
        )
      } else {
        await db.schema.alterTable(names.users).addColumn('pending_email', 'varchar(320)').execute()
      }
    },
  }
}
