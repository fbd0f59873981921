/**
 * `fastify-users disable-2fa`: the administrator's recovery for a user who lost their authenticator app
 * and their recovery codes.
 *
 * @module
 */
import { Command } from 'commander'
import { createKyselyRepositories } from '../../persistence/kysely/index.js'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findUser } from '../lookup.js'
import type { CliIo } from '../output.js'

interface DisableTwoFactorOptions extends DatabaseOptions {
  email?: string
  id?: string
}

/**
 * Builds the `disable-2fa` command: removes the user's TOTP secret and recovery codes, so their password
 * alone logs in again. The command sends no mail (it has no mailer): tell the user yourself, once you
 * made sure who asked.
 *
 * @example
 * ```sh
 * fastify-users disable-2fa --email ada@example.com
 * ```
 */
export function disableTwoFactorCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('disable-2fa'))
    .description("turn off a user's two-factor authentication (TOTP and recovery codes)")
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--id <id>', 'the user, by id')
    .action(async (options: DisableTwoFactorOptions, command: Command) => {
      exactlyOne(command, { email: options.email, id: options.id }, 'the user')
      await withUserService(options, async ({ service, db, tableOption, schema }) => {
        const user = await findUser(service, { email: options.email, id: options.id })
        const { totpRepository } = createKyselyRepositories(db, {
          idType: schema.idType,
          tables: tableOption,
        })
        const removed = await totpRepository.delete(user.id)
        io.stdout.write(
          removed
            ? `Two-factor authentication turned off for ${user.email}; their password alone logs in now.\n`
            : `${user.email} had no two-factor authentication; nothing changed.\n`,
        )
      })
    })
}
