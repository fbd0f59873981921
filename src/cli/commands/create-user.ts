/**
 * `fastify-users create-user`: adds a user, with the application's custom fields.
 *
 * @module
 */
import { Command, Option } from 'commander'
import { canonicalEmail } from '../../core/identifiers.js'
import { UserExistsError } from '../../kernel/errors.js'
import type { PasswordSchemeName } from '../../password/password-manager.js'
import { type DatabaseOptions, withDatabaseOption, withUserService } from '../context.js'
import { attributeParser, type CustomAttribute, resolveAttributes } from '../custom-attributes.js'
import { CliError, type CliIo, ExitCode, publicUser } from '../output.js'
import { promptNewPassword, readPasswordFrom } from '../prompt.js'

interface CreateUserOptions extends DatabaseOptions {
  email: string
  password?: string
  passwordStdin?: boolean
  username?: string
  id?: string
  active?: boolean
  verified?: boolean
  strAttrs?: CustomAttribute[]
  intAttrs?: CustomAttribute[]
  floatAttrs?: CustomAttribute[]
  boolAttrs?: CustomAttribute[]
  hashScheme: PasswordSchemeName
  json?: boolean
}

/**
 * Builds the `create-user` command. It goes through `BaseUserService.addUser`, so the password policy,
 * the canonical (lower-cased) email and the race-free duplicate check apply as in the application.
 *
 * Without `--password` or `--password-stdin` the password is asked for twice with hidden input; when
 * stdin is not a terminal, the command refuses instead (exit code 2) rather than hang or read a pipe.
 * Users are created active and unverified unless `--no-active` or `--verified` say otherwise.
 *
 * @example
 * ```sh
 * fastify-users create-user --email admin@example.com --verified -s displayName=Admin -b newsletter=no
 * ```
 */
export function createUserCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('create-user'))
    .description('create a user (the password is asked for when not given)')
    .requiredOption('--email <email>', 'email address (stored lower-cased; must be unique)')
    .addOption(
      new Option(
        '--password <password>',
        'the password; visible in the process list, prefer the prompt',
      ).conflicts('passwordStdin'),
    )
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--username <username>', 'username, for apps that log in by username')
    .option('--id <id>', 'the id of the new user (a UUID, or an integer), instead of a generated one')
    .option('--active', 'the user can log in (the default)')
    .option('--no-active', 'create the user deactivated')
    .option('--verified', 'mark the email address as verified')
    .option('--no-verified', 'leave the email address unverified (the default)')
    .option('-s, --str-attrs <field=value>', 'a text custom field; repeatable', attributeParser('str'))
    .option('-i, --int-attrs <field=value>', 'an integer custom field; repeatable', attributeParser('int'))
    .option('-f, --float-attrs <field=value>', 'a numeric custom field; repeatable', attributeParser('float'))
    .option(
      '-b, --bool-attrs <field=value>',
      'a boolean custom field (true/false); repeatable',
      attributeParser('bool'),
    )
    .addOption(
      new Option('--hash-scheme <scheme>', 'how to hash the password; use the first scheme of your app')
        .choices(['argon2id', 'scrypt', 'bcrypt'])
        .default('argon2id'),
    )
    .option('--json', 'print the created user as JSON')
    .action(async (options: CreateUserOptions) => {
      if (options.passwordStdin && io.stdin.isTTY) {
        // Reading a terminal line would echo the password; the prompt is the way to type it.
        throw new CliError(
          '--password-stdin reads a pipe, and stdin is a terminal; leave the option out to be asked without echo',
          ExitCode.usage,
        )
      }
      let password = options.passwordStdin ? await readPasswordFrom(io.stdin) : options.password
      // Checked before connecting: a script must fail at once, not after opening the database.
      if (password === undefined && !io.stdin.isTTY) {
        throw new CliError(
          'no password: pass --password or --password-stdin, or run the command in a terminal to be asked for one',
          ExitCode.usage,
        )
      }
      await withUserService(options, async ({ schema, service }) => {
        const custom = resolveAttributes(
          [
            ...(options.strAttrs ?? []),
            ...(options.intAttrs ?? []),
            ...(options.floatAttrs ?? []),
            ...(options.boolAttrs ?? []),
          ],
          schema,
        )
        const email = canonicalEmail(options.email)
        // Asked before the prompt so nobody types a password twice for an address that is taken; the
        // unique index still decides if another writer gets there in between.
        if (await service.getUserBy({ email })) throw new UserExistsError('email')
        password ??= await promptNewPassword({ input: io.stdin, output: io.stderr })
        const user = await service.addUser(
          {
            ...custom,
            email,
            password,
            ...(options.username !== undefined ? { username: options.username } : {}),
            ...(options.id !== undefined ? { id: options.id } : {}),
          },
          { activate: options.active !== false, verify: options.verified === true },
        )
        if (options.json) {
          io.stdout.write(`${JSON.stringify(publicUser(user), null, 2)}\n`)
        } else {
          const state = [user.isActive ? 'active' : 'inactive', user.isVerified ? 'verified' : 'unverified']
          io.stdout.write(`Created user ${user.email} (id ${user.id}; ${state.join(', ')}).\n`)
        }
      })
    })
}
