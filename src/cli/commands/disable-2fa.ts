/**
 * `fastify-users disable-2fa`: the administrator's recovery for a user who lost their second factors (the
 * authenticator app and its recovery codes, or the device holding their passkeys).
 *
 * @module
 */

import { Command } from 'commander'
import { deleteEveryPasskey } from '../../core/passkey-repository.js'
import { createKyselyRepositories } from '../../persistence/kysely/index.js'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { exactlyOne, findUser } from '../lookup.js'
import type { CliIo } from '../output.js'

interface DisableTwoFactorOptions extends DatabaseOptions {
  email?: string
  id?: string
}

/**
 * Builds the `disable-2fa` command: removes every second factor of the user (the TOTP secret and recovery
 * codes, and their passkeys, which an application asks at the login's second step too), so their password
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
    .description("turn off a user's two-factor authentication (TOTP, recovery codes and passkeys)")
    .option('--email <email>', 'the user, by email (case-insensitive)')
    .option('--id <id>', 'the user, by id')
    .action(async (options: DisableTwoFactorOptions, command: Command) => {
      exactlyOne(command, { email: options.email, id: options.id }, 'the user')
      await withUserService(options, async ({ service, db, tableOption, schema }) => {
        const user = await findUser(service, { email: options.email, id: options.id })
        const { totpRepository, passkeyRepository } = createKyselyRepositories(db, {
          idType: schema.idType,
          tables: tableOption,
        })
        const totp = await totpRepository.delete(user.id)
        // A passkey is a second factor too (the login's second step accepts it): a user who lost the
        // device holding it would stay locked out with the TOTP factor alone removed. An administrator's
        // recovery overrides the last-way-to-log-in rule: an account left without one sets a password through
        // the reset flow.
        const passkeys = await deleteEveryPasskey(passkeyRepository, user.id)
        const removed = [
          ...(totp ? ['the authenticator app and its recovery codes'] : []),
          ...(passkeys > 0 ? [`${passkeys} passkey${passkeys === 1 ? '' : 's'}`] : []),
        ]
        io.stdout.write(
          removed.length > 0
            ? `Two-factor authentication turned off for ${user.email} (removed ${removed.join(' and ')}); their password alone logs in now.\n`
            : `${user.email} had no two-factor authentication; nothing changed.\n`,
        )
      })
    })
}
