/**
 * The `fastify-users` program: its commands, and one run of it from an argv to an exit code.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { assignRoleCommand } from './commands/assign-role.js'
import { createRoleCommand } from './commands/create-role.js'
import { createUserCommand } from './commands/create-user.js'
import { deleteUserCommand } from './commands/delete-user.js'
import { disableTwoFactorCommand } from './commands/disable-2fa.js'
import { endSessionsCommand } from './commands/end-sessions.js'
import { importUsersCommand } from './commands/import-users.js'
import { listUsersCommand } from './commands/list-users.js'
import { migrateCommand } from './commands/migrate.js'
import { revokeRoleCommand } from './commands/revoke-role.js'
import { sessionsCommand } from './commands/sessions.js'
import { type CliIo, processIo, reportError } from './output.js'

/**
 * Builds the program with every command. Commander's own exits are turned into exceptions
 * (`exitOverride`), so {@link runCli} decides every exit code in one place.
 *
 * @example
 * ```ts
 * const program = createProgram(processIo)
 * console.log(program.helpInformation())
 * ```
 */
export function createProgram(io: CliIo): Command {
  const program = new Command('fastify-users')
    .description('Manage the users and roles of a fastify-users database.')
    .version(packageVersion(), '-V, --version', 'print the version of fastify-users')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
    })
    .exitOverride()
  const commands = [
    migrateCommand,
    createUserCommand,
    createRoleCommand,
    assignRoleCommand,
    revokeRoleCommand,
    listUsersCommand,
    deleteUserCommand,
    importUsersCommand,
    sessionsCommand,
    endSessionsCommand,
    disableTwoFactorCommand,
  ]
  for (const make of commands) {
    // Commands built on their own do not inherit the program's settings; copy them, so every command's
    // output goes through `io` and its errors reach runCli instead of calling process.exit.
    program.addCommand(make(io).copyInheritedSettings(program))
  }
  program.addHelpText(
    'after',
    '\nThe database comes from --database-url or DATABASE_URL (sqlite:file.db, postgres://..., mysql://...);\n' +
      "the tables' prefix, if the application sets one, from --table-prefix or FASTIFY_USERS_TABLE_PREFIX.\n" +
      'Exit codes: 0 done, 1 refused (bad input, duplicate, not found, database unreachable), 2 usage error.\n',
  )
  return program
}

/**
 * Runs the CLI once and returns the exit code; writes results to `io.stdout` and errors to `io.stderr`.
 *
 * @param argv - `process.argv`-style: the first two entries (node and the script) are skipped.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv)
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv])
    return 0
  } catch (error) {
    return reportError(error, io.stderr)
  }
}

/** The package's version; this module sits two levels below package.json both in src/ and in dist/. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}
