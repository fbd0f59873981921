/**
 * `fastify-users end-sessions`: logs a user out everywhere, or ends one of their sessions.
 *
 * @module
 */
import { Command } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findUser } from '../lookup.js'
import type { CliIo } from '../output.js'

interface EndSessionsOptions extends DatabaseOptions {
  email?: string
  id?: string
  session?: string
}

/**
 * Builds the `end-sessions` command. Without `--session`, the user is logged out everywhere: every
 * credential of every kind ends, JWT access tokens included (their credential version moves). With
 * `--session <id>` (an id `sessions` lists), only that session ends (a refresh-token family `r_…`: its
 * refresh tokens, and its access tokens through the deny-list); an id that is not one of the user's
 * fails and changes nothing.
 *
 * @example
 * ```sh
 * fastify-users end-sessions --email ada@example.com
 * fastify-users end-sessions --email ada@example.com --session s_3q2-7wEj9fVb0Xc1hK4mPA
 * ```
 */
export function endSessionsCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('end-sessions'))
    .description('log a user out everywhere, or end one of their sessions')
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--id <id>', 'the user, by id')
    .option('--session <session>', 'end only this session (an id from `sessions`)')
    .action(async (options: EndSessionsOptions, command: Command) => {
      exactlyOne(command, { email: options.email, id: options.id }, 'the user')
      await withUserService(options, async ({ service }) => {
        const user = await findUser(service, { email: options.email, id: options.id })
        if (options.session !== undefined) {
          await service.sessions.end(user.id, options.session)
          io.stdout.write(`Ended session ${options.session} of ${user.email}.\n`)
          return
        }
        await service.revokeCredentials(user.id)
        io.stdout.write(`Logged ${user.email} out everywhere.\n`)
      })
    })
}
