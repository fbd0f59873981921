/**
 * `fastify-users migrate`: creates or updates the fastify-users tables.
 *
 * @module
 */
import { Command, Option } from 'commander'
import type { IdType } from '../../core/user.js'
import { migrateToLatest } from '../../persistence/kysely/migrate.js'
import { type DatabaseOptions, withDatabase, withDatabaseOption } from '../context.js'
import { CliError, type CliIo } from '../output.js'
import { readUserSchema } from '../user-schema.js'

interface MigrateOptions extends DatabaseOptions {
  idType: IdType
}

/**
 * Builds the `migrate` command. It runs the migrations that ship with the package (forward-only,
 * idempotent: a second run says there is nothing to do). The id type is chosen when the schema is first
 * created; later runs keep the one the schema has, and refuse an explicit `--id-type` that disagrees.
 *
 * The application's own migrations (its custom user columns) are not run here: they live in its code,
 * which the CLI cannot load; run them with `migrateToLatest(db, { migrations })` or the plugin's
 * `migrate: true`.
 *
 * @example
 * ```sh
 * fastify-users migrate --database-url sqlite:data/app.db
 * DATABASE_URL=postgres://app@db/app fastify-users migrate --id-type integer
 * fastify-users migrate --database-url sqlite:data/app.db --table-prefix auth_
 * ```
 */
export function migrateCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('migrate'))
    .description('create or update the fastify-users tables (safe to run again)')
    .addOption(
      new Option('--id-type <type>', 'id type of users and roles, fixed when the tables are first created')
        .choices(['uuid', 'integer'])
        .default('uuid'),
    )
    .action(async (options: MigrateOptions, command: Command) => {
      await withDatabase({ ...options, create: true }, async ({ db, dialect, url, tables, tableOption }) => {
        const existing = await readUserSchema(db, dialect, tables.users)
        const explicit = command.getOptionValueSource('idType') === 'cli'
        if (existing && explicit && existing.idType !== options.idType) {
          throw new CliError(
            `the tables already use ${existing.idType} ids; the id type cannot change after the first migration`,
          )
        }
        const idType = existing?.idType ?? options.idType
        const { executed } = await migrateToLatest(db, { idType, tables: tableOption })
        if (executed.length === 0) {
          io.stdout.write(`Nothing to do: the schema of ${url} is up to date.\n`)
        } else {
          io.stdout.write(
            `Applied ${executed.length} migration(s) to ${url} (${idType} ids): ${executed.join(', ')}\n`,
          )
        }
      })
    })
}
