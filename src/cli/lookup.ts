/**
 * Finding the user or role a command names: users by email (case-insensitive) or id, roles by name
 * (case-insensitive) or id. A miss is a {@link CliError} that says what was looked for.
 *
 * @module
 */
import type { Command } from 'commander'
import type { BaseUser, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import { NotFoundError } from '../kernel/errors.js'
import { CliError, ExitCode } from './output.js'

/** How a command names a user. */
export interface UserSelector {
  email?: string
  /** A user id, as typed. */
  id?: string
}

/** How a command names a role. */
export interface RoleSelector {
  name?: string
  /** A role id, as typed. */
  id?: string
}

/**
 * Checks that exactly one of two options was given; a usage error (exit code 2) otherwise.
 *
 * @example
 * ```ts
 * exactlyOne(command, { email: options.email, 'user-id': options.userId }, 'the user')
 * ```
 */
export function exactlyOne(command: Command, values: Record<string, string | undefined>, what: string): void {
  const given = Object.entries(values).filter(([, value]) => value !== undefined)
  if (given.length !== 1) {
    const flags = Object.keys(values).map((name) => `--${name}`)
    command.error(`error: name ${what} with exactly one of ${flags.join(' or ')}`, {
      exitCode: ExitCode.usage,
      code: 'fastify-users.selector',
    })
  }
}

/**
 * The user named by email or id; throws a {@link CliError} when there is none.
 *
 * @example
 * ```ts
 * const user = await findUser(service, { email: 'Ada@Example.com' })
 * ```
 */
export async function findUser(service: BaseUserService, selector: UserSelector): Promise<BaseUser> {
  if (selector.email !== undefined) {
    const user = await service.getUserBy({ email: selector.email })
    if (!user) throw new CliError(`no user with the email '${selector.email}'`)
    return user
  }
  const id = selector.id ?? ''
  if (service.parseId(id) === null) {
    const expected = service.userRepository.idType === 'uuid' ? 'a UUID' : 'a positive integer'
    throw new CliError(`'${id}' is not a user id of this database (expected ${expected})`)
  }
  const user = await service.getUserBy({ id })
  if (!user) throw new CliError(`no user with the id '${id}'`)
  return user
}

/**
 * The role named by name or id; throws a {@link CliError} when there is none.
 *
 * @example
 * ```ts
 * const role = await findRole(service, { name: 'Admin' })
 * ```
 */
export async function findRole(service: BaseUserService, selector: RoleSelector): Promise<Role> {
  if (selector.name !== undefined) {
    const role = await service.getRoleByName(selector.name)
    if (!role)
      throw new CliError(`no role named '${selector.name}'; create it with \`fastify-users create-role\``)
    return role
  }
  const id = selector.id ?? ''
  try {
    return await service.getRole(id)
  } catch (error) {
    if (error instanceof NotFoundError) throw new CliError(`no role with the id '${id}'`)
    throw error
  }
}
