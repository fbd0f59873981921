/**
 * Runs the migrations that ship with the package through Kysely's `Migrator`. Forward-only and
 * idempotent: the `fastify_users_migration` table (`<prefix>fastify_users_migration` with a table prefix)
 * records what ran, so running twice changes nothing. The application's own migrations (custom user
 * columns) run after ours, tracked in their own table.
 *
 * @module
 */
import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely'
import type { IdType } from '../../core/user.js'
import { detectDialect } from './connect.js'
import { initialMigration } from './migrations/0001-initial.js'
import { loginAttemptsTableMigration } from './migrations/0002-login-attempts.js'
import { pendingEmailMigration } from './migrations/0003-pending-email.js'
import { identifierCollationMigration } from './migrations/0004-identifier-collation.js'
import { mailCapTableMigration } from './migrations/0005-mail-cap.js'
import { refreshTokensTableMigration } from './migrations/0007-refresh-tokens.js'
import { totpTableMigration } from './migrations/0008-totp.js'
import { passkeysTableMigration } from './migrations/0009-passkeys.js'
import { oauthAccountsTableMigration } from './migrations/0010-oauth-accounts.js'
import { oauthTokensColumnMigration } from './migrations/0011-oauth-tokens.js'
import { resolveTableNames, type TableNamesOption } from './table-names.js'

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /** Id type of users and roles, fixed when the schema is first created. Default: `'uuid'`. */
  idType?: IdType
  /**
   * The application's own migrations, for example the columns of its custom user fields. Named so they
   * sort in the order they must run; tracked in `fastify_users_app_migration` (prefixed like the other
   * tables). They receive the Kysely instance as it is: with `tables`, they name the users table by its
   * configured name (`resolveTableNames(tables).users`).
   */
  migrations?: Record<string, Migration>
  /**
   * The names of the tables, for a database that already has a `users` (or `roles`, `sessions`...) table of
   * its own; must be the same wherever the database is used (plugin, repositories, CLI). Default: the plain
   * names (`users`, `roles`, ...). See {@link TableNamesOption}.
   */
  tables?: TableNamesOption
}

/** What ran. */
export interface MigrateResult {
  /** Names of the migrations executed by this call (empty when everything was already applied). */
  executed: string[]
}

function check(result: MigrationResultSet, which: string): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName
    // The usual reason the first migration fails on an existing database: the app has a table of that name.
    const hint =
      failed === '0001-initial' && /already exists/i.test(String(result.error))
        ? " (if the database already has a table of that name, give fastify-users' tables other names with the `tables` option, e.g. { prefix: 'auth_' })"
        : ''
    throw new Error(
      `fastify-users: ${which} migration ${failed ?? ''} failed: ${String(result.error)}${hint}`,
      {
        cause: result.error,
      },
    )
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * Brings the schema up to date.
 *
 * @throws TypeError for invalid `tables` (before anything runs).
 *
 * @example
 * ```ts
 * await migrateToLatest(db, {
 *   tables: { prefix: 'auth_' }, // auth_users, auth_roles, ...
 *   migrations: {
 *     '2026-01-01-display-name': {
 *       up: (db) => db.schema.alterTable('auth_users').addColumn('display_name', 'varchar(100)').execute(),
 *     },
 *   },
 * })
 * ```
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const names = resolveTableNames(options.tables)
  const dialect = detectDialect(db)
  const ours: Record<string, Migration> = {
    '0001-initial': initialMigration(options.idType ?? 'uuid', dialect, names),
    '0002-login-attempts': loginAttemptsTableMigration(names),
    '0003-pending-email': pendingEmailMigration(dialect, names),
    '0004-identifier-collation': identifierCollationMigration(dialect, names),
    '0005-mail-cap': mailCapTableMigration(names),
    '0007-refresh-tokens': refreshTokensTableMigration(names),
    '0010-oauth-accounts': oauthAccountsTableMigration(options.idType ?? 'uuid', dialect, names),
    '0008-totp': totpTableMigration(options.idType ?? 'uuid', dialect, names),
    '0009-passkeys': passkeysTableMigration(options.idType ?? 'uuid', dialect, names),
    '0011-oauth-tokens': oauthTokensColumnMigration(names),
  }
  const executed = check(
    await new Migrator({
      db,
      provider: { getMigrations: async () => ours },
      migrationTableName: names.migration,
      migrationLockTableName: names.migrationLock,
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
          migrationTableName: names.appMigration,
          migrationLockTableName: names.appMigrationLock,
        }).migrateToLatest(),
        'application',
      ),
    )
  }
  return { executed }
}
