/**
 * `fastify-users list-users`: prints users as a table, or as JSON.
 *
 * @module
 */
import { Command, InvalidArgumentError } from 'commander'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { type CliIo, cell, formatTable, publicUser } from '../output.js'

interface ListUsersOptions extends DatabaseOptions {
  limit: number
  offset: number
  role?: string
  email?: string
  json?: boolean
}

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw)
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    }
    return value
  }
}

/**
 * Builds the `list-users` command: users oldest first, with their roles, the identity providers linked to
 * them, and custom fields. `--json` prints `{ "items": [...], "total": n }`, the shape of the HTTP API's
 * `GET /users`, with the same user fields (never the password hash) plus `linkedAccounts`.
 *
 * @example
 * ```sh
 * fastify-users list-users --role admin
 * fastify-users list-users --email @example.com --json | jq '.items[].email'
 * ```
 */
export function listUsersCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('list-users'))
    .description('list users, as a table or as JSON')
    .option('--limit <n>', 'at most this many users (1 to 1000)', integer(1, 1000), 100)
    .option('--offset <n>', 'skip this many users first', integer(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--role <name>', 'only users with this role')
    .option('--email <text>', 'only users whose email contains this text (case-insensitive)')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: ListUsersOptions) => {
      await withUserService(options, async ({ schema, service }) => {
        const page = await service.listUsers({
          limit: options.limit,
          offset: options.offset,
          filters: {
            ...(options.email !== undefined ? { email: options.email } : {}),
            ...(options.role !== undefined ? { role: options.role } : {}),
          },
          orderBy: { field: 'createdAt', direction: 'asc' },
        })
        // The providers each user can sign in with (`provider:subject`), one query per user of the page.
        const linked = await Promise.all(page.items.map((user) => service.oauth.list(user.id)))
        if (options.json) {
          const items = page.items.map((user, i) => ({
            ...publicUser(user),
            linkedAccounts: linked[i]!.map(({ provider, subject, email }) => ({ provider, subject, email })),
          }))
          io.stdout.write(`${JSON.stringify({ items, total: page.total }, null, 2)}\n`)
          return
        }
        if (page.items.length === 0) {
          io.stdout.write(
            page.total === 0
              ? 'No users.\n'
              : `No users after offset ${options.offset} (${page.total} in all).\n`,
          )
          return
        }
        const custom = [...schema.customFields.keys()]
        const rows = page.items.map((user, i) => [
          String(user.id),
          user.email,
          cell(user.isActive),
          cell(user.isVerified),
          user.roles.map((r) => r.name).join(',') || '-',
          linked[i]!.map((account) => account.provider).join(',') || '-',
          user.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          ...custom.map((field) => cell((user as unknown as Record<string, unknown>)[field])),
        ])
        io.stdout.write(
          formatTable(
            ['ID', 'EMAIL', 'ACTIVE', 'VERIFIED', 'ROLES', 'PROVIDERS', 'CREATED', ...custom.map(header)],
            rows,
          ),
        )
        const shown = page.items.length
        const first = options.offset + 1
        io.stdout.write(
          shown === page.total
            ? `${page.total} user${page.total === 1 ? '' : 's'}.\n`
            : `Users ${first} to ${options.offset + shown} of ${page.total}` +
                (options.offset + shown < page.total
                  ? `; next page: --offset ${options.offset + shown}.\n`
                  : '.\n'),
        )
      })
    })
}

/** `displayName` to `DISPLAY_NAME`, matching the built-in headers. */
function header(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
}
