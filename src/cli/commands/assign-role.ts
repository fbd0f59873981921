/**
 * `fastify-users assign-role`: gives a user a role.
 *
 * @module
 */
import { Command } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findRole, findUser } from '../lookup.js'
import type { CliIo } from '../output.js'

/** The options of `assign-role` and `revoke-role`. */
export interface RoleChangeOptions extends DatabaseOptions {
  email?: string
  userId?: string
  role?: string
  roleId?: string
  /** `revoke-role` only: may take the admin role from the last active admin. */
  force?: boolean
}

/**
 * Builds the `assign-role` command. The link is written in one statement, committed when the command
 * says so (unlike litestar-users, whose `assign-role` never commits). A role the user already has fails
 * with exit code 1.
 *
 * @example
 * ```sh
 * fastify-users assign-role --email admin@example.com --role admin
 * ```
 */
export function assignRoleCommand(io: CliIo): Command {
  return roleChangeCommand(io, 'assign')
}

/**
 * The shared body of `assign-role` and `revoke-role`: they differ only in the service method and the words.
 */
export function roleChangeCommand(io: CliIo, change: 'assign' | 'revoke'): Command {
  const assign = change === 'assign'
  const command = withDatabaseOption(new Command(assign ? 'assign-role' : 'revoke-role'))
    .description(assign ? 'give a user a role' : 'take a role from a user')
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--user-id <id>', 'the user, by id')
    .option('--role <name>', 'the role, by name (case-insensitive)')
    .option('--role-id <id>', 'the role, by id')
  if (!assign) {
    command.option('--force', 'take the admin role even from the last active admin')
  }
  return command.action(async (options: RoleChangeOptions, command: Command) => {
    exactlyOne(command, { email: options.email, 'user-id': options.userId }, 'the user')
    exactlyOne(command, { role: options.role, 'role-id': options.roleId }, 'the role')
    await withUserService(options, async ({ service }) => {
      const user = await findUser(service, { email: options.email, id: options.userId })
      const role = await findRole(service, { name: options.role, id: options.roleId })
      if (assign) await service.assignRole(user.id, role.id)
      else await service.revokeRole(user.id, role.id, { force: options.force === true })
      io.stdout.write(
        assign
          ? `Assigned role ${role.name} to ${user.email}.\n`
          : `Revoked role ${role.name} from ${user.email}.\n`,
      )
    })
  })
}
