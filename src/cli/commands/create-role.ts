/**
 * `fastify-users create-role`: adds a role.
 *
 * @module
 */
import { Command } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import type { CliIo } from '../output.js'
import { ExitCode } from '../output.js'

interface CreateRoleOptions extends DatabaseOptions {
  name?: string
  description?: string
}

/**
 * Builds the `create-role` command. The name is stored lower-cased and must be unique
 * (case-insensitively); a duplicate fails with exit code 1 and changes nothing.
 *
 * @example
 * ```sh
 * fastify-users create-role admin --description "Manages users and roles"
 * fastify-users create-role --name admin
 * ```
 */
export function createRoleCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('create-role'))
    .description('create a role')
    .argument('[name]', 'the role name (letters, digits, . _ : -)')
    .option('--name <name>', 'the role name, as an option')
    .option('--description <text>', 'what the role is for (up to 255 characters)')
    .action(async (positional: string | undefined, options: CreateRoleOptions, command: Command) => {
      if ((positional === undefined) === (options.name === undefined)) {
        command.error('error: give the role name once, as an argument or with --name', {
          exitCode: ExitCode.usage,
          code: 'fastify-users.role-name',
        })
      }
      const name = (positional ?? options.name)!
      await withUserService(options, async ({ service }) => {
        const role = await service.addRole({ name, description: options.description ?? null })
        io.stdout.write(`Created role ${role.name} (id ${role.id}).\n`)
      })
    })
}
