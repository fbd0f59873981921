/**
 * Runs the migrations that ship with the package through Kysely's `Migrator`. Forward-only and
 * idempotent: the `fastify_users_migration` table records what ran, so running twice changes nothing.
 * The application's own migrations (custom user columns) run after ours, tracked in their own table.
 *
 * @module
 */
import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely'
import type { IdType } from '../../core/user.js'
import { detectDialect } from './connect.js'
import { initialMigration } from './migrations/0001-initial.js'
import { loginAttemptsMigration } from './migrations/0002-login-attempts.js'
import { pendingEmailMigration } from './migrations/0003-pending-email.js'
import { identifierCollationMigration } from './migrations/0004-identifier-collation.js'
import { mailCapMigration } from './migrations/0005-mail-cap.js'

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /** Id type of users and roles, fixed when the schema is first created. Default: `'uuid'`. */
  idType?: IdType
  /**
   * The application's own migrations, for example the columns of its custom user fields. Named so they
   * sort in the order they must run; tracked in `fastify_users_app_migration`.
   */
  migrations?: Record<string, Migration>
}

/** What ran. */
export interface MigrateResult {
  /** Names of the migrations executed by this call (empty when everything was already applied). */
  executed: string[]
}

function check(result: MigrationResultSet, which: string): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName
    throw new Error(`fastify-users: ${which} migration ${failed ?? ''} failed: ${String(result.error)}`, {
      cause: result.error,
    })
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * Brings the schema up to date.
 *
 * @example
 * ```ts
 * await migrateToLatest(db, {
 *   migrations: {
 *     '2026-01-01-display-name': {
 *       up: (db) => db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute(),
 *     },
 *   },
 * })
 * ```
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const dialect = detectDialect(db)
  const ours: Record<string, Migration> = {
    '0001-initial': initialMigration(options.idType ?? 'uuid', dialect),
    '0002-login-attempts': loginAttemptsMigration,
    '0003-pending-email': pendingEmailMigration(dialect),
    '0004-identifier-collation': identifierCollationMigration(dialect),
    '0005-mail-cap': mailCapMigration,
  }
  const executed = check(
    await new Migrator({
      db,
      provider: { getMigrations: async () => ours },
      migrationTableName: 'fastify_users_migration',
      migrationLockTableName: 'fastify_users_migration_lock',
    }).migrateToLatest(),
    'fastify-users',
  )
  if (options.migrations && Object.keys(options.migrations).length > 0) {
    const theirs = options.migrations
    executed.push(
      ...check(
        await new Migrator({
          db,
          provider: { getMigrations: async () => theirs },
          migrationTableName: 'fastify_users_app_migration',
          migrationLockTableName: 'fastify_users_app_migration_lock',
        }).migrateToLatest(),
        'application',
      ),
    )
  }
  return { executed }
}
