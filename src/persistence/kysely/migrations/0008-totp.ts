/**
 * The `user_totp` table: one row per user with a TOTP second factor (its encrypted secret, the last
 * accepted time step, the hashed recovery codes); and `step_up_proofs`: the latest proof of identity of
 * each credential.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { IdType } from '../../../core/user.js'
import type { DatabaseDialect } from '../connect.js'
import { indexName, resolveTableNames, type TableNames } from '../table-names.js'

/**
 * The TOTP migration. The user reference has the type of `users.id` (as in `0001-initial`) and is deleted
 * with the user.
 *
 * @example
 * ```ts
 * const migration = totpTableMigration('uuid', 'sqlite', resolveTableNames())
 * ```
 */
export function totpTableMigration(
  idType: IdType,
  dialect: DatabaseDialect,
  names: TableNames = resolveTableNames(),
): Migration {
  const table = names.userTotp
  const refType = idType === 'uuid' ? 'varchar(36)' : dialect === 'sqlite' ? 'integer' : 'bigint'
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable(table)
        .addColumn('user_id', refType, (c) =>
          c.primaryKey().references(`${names.users}.id`).onDelete('cascade'),
        )
        // AES-256-GCM ciphertext of the secret, never the secret itself.
        .addColumn('secret', 'varchar(255)', (c) => c.notNull())
        .addColumn('confirmed_at', 'bigint')
        .addColumn('last_step', 'bigint')
        // JSON array of hex SHA-256 digests of the unused recovery codes.
        .addColumn('recovery_codes', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      // Step-up proofs, by credential (a session id hash or a token's jti); no foreign key: a proof of a
      // deleted user is never found again (the credential is gone) and the sweep forgets it.
      const proofs = names.stepUpProofs
      await db.schema
        .createTable(proofs)
        .addColumn('credential_id', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('user_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('kind', 'varchar(32)', (c) => c.notNull())
        .addColumn('proved_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex(indexName(proofs, 'expires_idx')).on(proofs).column('expires_at').execute()
    },
  }
}
