/**
 * `fastify-users delete-user`: deletes a user.
 *
 * @module
 */
import { Command } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findUser } from '../lookup.js'
import { type CliIo, publicUser } from '../output.js'

interface DeleteUserOptions extends DatabaseOptions {
  email?: string
  id?: string
  json?: boolean
  force?: boolean
}

/**
 * Builds the `delete-user` command. The user goes with their role links and sessions, in one transaction,
 * so every credential of theirs ends at once.
 *
 * @example
 * ```sh
 * fastify-users delete-user --email spam@example.com
 * fastify-users delete-user --id 0190a6e4-8f4b-7c1e-9d2a-3b4c5d6e7f80
 * fastify-users delete-user --email last-admin@example.com --force
 * ```
 */
export function deleteUserCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('delete-user'))
    .description('delete a user, with their roles and sessions')
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--id <id>', 'the user, by id')
    .option('--json', 'print the deleted user as JSON')
    .option('--force', 'delete even the last active admin (the web API refuses that)')
    .action(async (options: DeleteUserOptions, command: Command) => {
      exactlyOne(command, { email: options.email, id: options.id }, 'the user')
      await withUserService(options, async ({ service }) => {
        const user = await findUser(service, { email: options.email, id: options.id })
        const deleted = await service.deleteUser(user.id, { force: options.force === true })
        if (options.json) io.stdout.write(`${JSON.stringify(publicUser(deleted), null, 2)}\n`)
        else io.stdout.write(`Deleted user ${deleted.email} (id ${deleted.id}).\n`)
      })
    })
}
