/**
 * Roles: their records, their links to users, and the default roles of new users. Every removal of an
 * admin role goes through the admin guard, so the last administrator cannot be lost.
 *
 * @module
 */
import {
  ConflictError,
  NotFoundError,
  RoleAlreadyAssignedError,
  RoleExistsError,
  RoleNotAssignedError,
  ValidationError,
} from '../kernel/errors.js'
import type { AdminActionOptions } from './admin-guard.js'
import { canonicalRoleName } from './identifiers.js'
import type { RoleRepository } from './repositories.js'
import type { ServiceContext } from './service-context.js'
import { checkStorableText } from './storable-text.js'
import type { BaseUser, Id, Role } from './user.js'
import { parseId } from './user-fields.js'

type Context<U extends BaseUser, R extends Role> = ServiceContext<U, R, unknown>

/**
 * The role repository, or a `TypeError` saying the service was built without one.
 *
 * @example
 * ```ts
 * const roles = roleRepository(context)
 * ```
 */
export function roleRepository<R extends Role>(context: Context<BaseUser, R>): RoleRepository<R> {
  if (!context.roleRepository) {
    throw new TypeError('fastify-users: this service has no `roleRepository`; pass one to use roles')
  }
  return context.roleRepository
}

/**
 * The role with this id; throws {@link NotFoundError}.
 *
 * @example
 * ```ts
 * const role = await getRole(context, roleId)
 * ```
 */
export async function getRole<R extends Role>(context: Context<BaseUser, R>, id: Id): Promise<R> {
  const roles = roleRepository(context)
  const parsed = parseId(context.userRepository.idType, id)
  const role = parsed === null ? null : await roles.findById(parsed)
  if (!role) throw new NotFoundError('role')
  return role
}

/**
 * The role with this name (case-insensitive), or `null`.
 *
 * @example
 * ```ts
 * const admin = await getRoleByName(context, 'Admin') // case-insensitive
 * ```
 */
export async function getRoleByName<R extends Role>(
  context: Context<BaseUser, R>,
  name: string,
): Promise<R | null> {
  const roles = roleRepository(context)
  let canonical: string
  try {
    canonical = canonicalRoleName(name)
  } catch {
    return null
  }
  return roles.findByName(canonical)
}

/**
 * Adds a role; a taken name throws {@link RoleExistsError}.
 *
 * @example
 * ```ts
 * const role = await addRole(context, { name: 'editor', description: 'Edits articles' })
 * ```
 */
export async function addRole<R extends Role>(
  context: Context<BaseUser, R>,
  data: { name: string; description?: string | null },
): Promise<R> {
  const roles = roleRepository(context)
  const name = canonicalRoleName(data.name)
  const description = checkDescription(data.description)
  try {
    return await roles.insert({ name, description: description ?? null })
  } catch (err) {
    if (err instanceof ConflictError) throw new RoleExistsError(name)
    throw err
  }
}

/**
 * Updates a role; renaming an admin role away is an admin removal.
 *
 * @example
 * ```ts
 * await updateRole(context, role.id, { description: 'Edits and publishes' }, { actorId: me.id })
 * ```
 */
export async function updateRole<R extends Role>(
  context: Context<BaseUser, R>,
  id: Id,
  data: { name?: string; description?: string | null },
  options: AdminActionOptions,
): Promise<R> {
  const roles = roleRepository(context)
  const guard = context.adminGuard
  const current = await getRole(context, id)
  const patch: { name?: string; description?: string | null } = {}
  if (data.name !== undefined) patch.name = canonicalRoleName(data.name)
  if (data.description !== undefined) patch.description = checkDescription(data.description) ?? null
  // An empty patch changes nothing, like `updateUser`'s: the role as it is, no write, no audit line.
  if (Object.keys(patch).length === 0) return current
  try {
    const write = () => roles.update(current.id, patch)
    // Renaming an admin role away takes administration from every holder, like deleting it.
    const renamesAway =
      patch.name !== undefined && !guard.isAdminRole(patch.name) && guard.isAdminRole(current.name)
    const updated = renamesAway
      ? await guard.run({ kind: 'role', roleName: current.name }, options, write)
      : await write()
    if (!updated) throw new NotFoundError('role')
    context.logger.info({ event: 'authz_change', roleId: updated.id }, 'role updated')
    return updated
  } catch (err) {
    if (err instanceof ConflictError) throw new RoleExistsError(patch.name ?? current.name)
    throw err
  }
}

/**
 * Deletes a role and unassigns it from every user; returns it.
 *
 * @example
 * ```ts
 * await deleteRole(context, role.id, { actorId: me.id })
 * ```
 */
export async function deleteRole<R extends Role>(
  context: Context<BaseUser, R>,
  id: Id,
  options: AdminActionOptions,
): Promise<R> {
  const roles = roleRepository(context)
  const parsed = parseId(context.userRepository.idType, id)
  const role = parsed === null ? null : await roles.findById(parsed)
  const deleted =
    parsed === null || !role
      ? null
      : await context.adminGuard.run({ kind: 'role', roleName: role.name }, options, () =>
          roles.delete(parsed),
        )
  if (!deleted) throw new NotFoundError('role')
  context.logger.info({ event: 'authz_change', roleId: deleted.id, change: 'deleted' }, 'role deleted')
  return deleted
}

/**
 * Gives a user a role; returns the user with their roles.
 *
 * @example
 * ```ts
 * const user = await assignRole(context, userId, roleId)
 * ```
 */
export async function assignRole<U extends BaseUser, R extends Role>(
  context: Context<U, R>,
  userId: Id,
  roleId: Id,
): Promise<U> {
  const roles = roleRepository(context)
  const user = await context.service.getUser(userId)
  const role = await getRole(context, roleId)
  if (!(await roles.assign(user.id, role.id))) throw new RoleAlreadyAssignedError(role.name)
  context.logger.info(
    { event: 'authz_change', userId: user.id, role: role.name, change: 'assigned' },
    'role assigned',
  )
  return context.service.getUser(user.id)
}

/**
 * Takes a role from a user; returns the user with their roles.
 *
 * @example
 * ```ts
 * const user = await revokeRole(context, userId, roleId, { actorId: me.id })
 * ```
 */
export async function revokeRole<U extends BaseUser, R extends Role>(
  context: Context<U, R>,
  userId: Id,
  roleId: Id,
  options: AdminActionOptions,
): Promise<U> {
  const roles = roleRepository(context)
  const user = await context.service.getUser(userId)
  const role = await getRole(context, roleId)
  const revoked = await context.adminGuard.run(
    { kind: 'user', userId: user.id, loses: [role.name] },
    options,
    () => roles.revoke(user.id, role.id),
  )
  if (!revoked) throw new RoleNotAssignedError(role.name)
  context.logger.info(
    { event: 'authz_change', userId: user.id, role: role.name, change: 'revoked' },
    'role revoked',
  )
  return context.service.getUser(user.id)
}

/**
 * The default roles, looked up before the user is inserted: a missing role is a configuration fault and
 * must fail every registration alike, before anything is stored (a half-made account, or an answer that
 * differs from a taken address's, would be worse).
 *
 * @example
 * ```ts
 * const roles = await defaultRoleRecords(context) // before the insert
 * ```
 */
export async function defaultRoleRecords<R extends Role>(context: Context<BaseUser, R>): Promise<R[]> {
  if (context.defaultRoles.length === 0) return []
  const roles = roleRepository(context)
  const found: R[] = []
  for (const name of context.defaultRoles) {
    const role = await roles.findByName(name)
    if (!role)
      throw new Error(
        `fastify-users: default role '${name}' does not exist; create it (fastify-users create-role ${name})`,
      )
    found.push(role)
  }
  return found
}

/**
 * Links the default roles to a new user; returns the user with them.
 *
 * @example
 * ```ts
 * user = await assignDefaultRoles(context, user, roles)
 * ```
 */
export async function assignDefaultRoles<U extends BaseUser, R extends Role>(
  context: Context<U, R>,
  user: U,
  defaultRoles: readonly R[],
): Promise<U> {
  const roles = roleRepository(context)
  for (const role of defaultRoles) await roles.assign(user.id, role.id)
  return context.service.getUser(user.id)
}

function checkDescription(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value
  if (typeof value !== 'string' || value.length > 255) {
    throw new ValidationError('description', 'description must be a string of at most 255 characters')
  }
  return checkStorableText('description', value)
}
