/**
 * `fastify-users sessions`: a user's signed-in devices.
 *
 * @module
 */
import { Command } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findUser } from '../lookup.js'
import { type CliIo, cell, formatTable } from '../output.js'

interface SessionsOptions extends DatabaseOptions {
  email?: string
  id?: string
  json?: boolean
}

/**
 * Builds the `sessions` command: the user's live sessions, the most recently used first, with the id
 * `end-sessions --session` takes: login sessions (`s_…`, kind `session`) and the refresh-token families
 * of the JWT backends (`r_…`, kind `refresh`). `--json` prints them as `GET /users/me/sessions` answers them.
 *
 * @example
 * ```sh
 * fastify-users sessions --email ada@example.com
 * fastify-users sessions --id 0190a6e4-8f4b-7c1e-9d2a-3b4c5d6e7f80 --json
 * ```
 */
export function sessionsCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('sessions'))
    .description("list a user's sessions (signed-in devices)")
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--id <id>', 'the user, by id')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: SessionsOptions, command: Command) => {
      exactlyOne(command, { email: options.email, id: options.id }, 'the user')
      await withUserService(options, async ({ service }) => {
        const user = await findUser(service, { email: options.email, id: options.id })
        const sessions = await service.sessions.list(user.id)
        const iso = (ms: number) => new Date(ms).toISOString()
        if (options.json) {
          const items = sessions.map((s) => ({
            ...s,
            createdAt: iso(s.createdAt),
            lastSeenAt: iso(s.lastSeenAt),
            expiresAt: iso(s.expiresAt),
          }))
          io.stdout.write(`${JSON.stringify({ sessions: items }, null, 2)}\n`)
          return
        }
        if (sessions.length === 0) {
          io.stdout.write(`${user.email} has no sessions.\n`)
          return
        }
        const rows = sessions.map((s) => [
          s.id,
          s.kind,
          iso(s.createdAt),
          iso(s.lastSeenAt),
          cell(s.ip),
          cell([s.device.browser, s.device.os].filter(Boolean).join(' on ')),
        ])
        io.stdout.write(formatTable(['ID', 'KIND', 'CREATED', 'LAST SEEN', 'IP', 'DEVICE'], rows))
      })
    })
}
