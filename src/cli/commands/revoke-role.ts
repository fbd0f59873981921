/**
 * `fastify-users revoke-role`: takes a role from a user.
 *
 * @module
 */
import type { Command } from 'commander'
import type { CliIo } from '../output.js'
import { roleChangeCommand } from './assign-role.js'

/**
 * Builds the `revoke-role` command. A role the user does not have fails with exit code 1. The user's
 * existing sessions and tokens see the change on their next request.
 *
 * @example
 * ```sh
 * fastify-users revoke-role --email former-admin@example.com --role admin
 * ```
 */
export function revokeRoleCommand(io: CliIo): Command {
  return roleChangeCommand(io, 'revoke')
}
