/**
 * Users: adding, registering, finding, listing, updating, deleting, and the password change and
 * credential revocation of an existing user. The service's facade methods call these; the rules they
 * hold (an email set directly must be verified again, a new password or a deactivation ends every
 * credential, a deleted user keeps no session) apply whatever the entry point.
 *
 * @module
 */
import { NotFoundError, UserExistsError, ValidationError, WrongPasswordError } from '../kernel/errors.js'
import type { AdminActionOptions } from './admin-guard.js'
import { provePassword } from './authentication.js'
import * as emailChange from './email-change.js'
import { emailFingerprint } from './fingerprints.js'
import { canonicalEmail, canonicalRoleName, foldIdentifier } from './identifiers.js'
import * as passwordReset from './password-reset.js'
import type { NewUserRecord, UserListQuery, UserPage, UserRecordPatch } from './repositories.js'
import * as roles from './role-admin.js'
import { endSessions, hashNewPassword, type ServiceContext, translateConflict } from './service-context.js'
import { checkStorableText } from './storable-text.js'
import type { BaseUser, Id, NewUser, Role, UserPatch } from './user.js'
import { checkUserFields, type FieldCheckMode, parseId } from './user-fields.js'

/**
 * Options of `addUser`, as in litestar-users.
 *
 * @example
 * ```ts
 * await service.addUser({ email, password }, { verify: true })
 * ```
 */
export interface AddUserOptions {
  /** Set `isVerified`. Default: `false`. */
  verify?: boolean
  /** Set `isActive`. Default: `true`. */
  activate?: boolean
}

function checkFields(
  context: ServiceContext<BaseUser, Role, unknown>,
  data: Record<string, unknown>,
  mode: FieldCheckMode,
): Record<string, unknown> {
  return checkUserFields(data, mode, {
    userFields: context.userRepository.userFields,
    userAuthIdentifier: context.userAuthIdentifier,
    idType: context.userRepository.idType,
  })
}

/**
 * The body of `BaseUserService.addUser`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await addUser(context, { email, password }, { verify: true })
 * ```
 */
export async function addUser<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  user: NewUser<U>,
  options: AddUserOptions,
): Promise<U> {
  const record = checkFields(context, user as Record<string, unknown>, 'create')
  const { password, passwordHash } = user as { password?: unknown; passwordHash?: unknown }
  if (typeof password === 'string') {
    record.passwordHash = await hashNewPassword(context, password, record)
  } else if (typeof passwordHash === 'string' && passwordHash.startsWith('$')) {
    record.passwordHash = passwordHash
  } else {
    throw new ValidationError('password', 'password is required')
  }
  record.isVerified = options.verify ?? false
  record.isActive = options.activate ?? true
  try {
    return await context.userRepository.insert(record as NewUserRecord)
  } catch (err) {
    throw translateConflict(context, err)
  }
}

/**
 * The body of `BaseUserService.register`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await register(context, { email, password }, request)
 * ```
 */
export async function register<U extends BaseUser, R extends Role, Req>(
  context: ServiceContext<U, R, Req>,
  data: Record<string, unknown>,
  request: Req | undefined,
): Promise<U> {
  await context.service.preRegistrationHook(data, request)
  const { password } = data
  if (typeof password !== 'string') throw new ValidationError('password', 'password is required')
  const record = checkFields(context, data, 'register')
  const defaultRoles = await roles.defaultRoleRecords(context)
  // Hash before touching the database: a taken address costs the same work as a new one, and no
  // connection or transaction is held while the thread pool hashes.
  record.passwordHash = await hashNewPassword(context, password, record)
  record.isVerified = !context.requireVerificationOnRegistration
  record.isActive = true
  let user: U
  try {
    user = await context.userRepository.insert(record as NewUserRecord)
  } catch (err) {
    const translated = translateConflict(context, err)
    // Only a taken address is answered with a notice to its owner (and voids an unproven password):
    // the mailbox is what both claimants assert. A taken username or other unique column says nothing
    // about the mailbox; it is refused plainly and the account that holds it is left alone.
    if (
      translated instanceof UserExistsError &&
      translated.field === 'email' &&
      context.requireVerificationOnRegistration
    ) {
      await passwordReset.noticeExistingAccount(context, record)
    }
    throw translated
  }
  if (defaultRoles.length > 0) user = await roles.assignDefaultRoles(context, user, defaultRoles)
  context.logger.info({ event: 'user_created', userId: user.id }, 'user registered')
  if (context.requireVerificationOnRegistration) await context.service.initiateVerification(user)
  await context.service.postRegistrationHook(user, request)
  return user
}

/**
 * The body of `BaseUserService.getUserBy`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await getUserBy(context, { email: 'Ada@Example.com' })
 * ```
 */
export async function getUserBy<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  filters: Record<string, unknown>,
): Promise<U | null> {
  const canonical: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(filters)) {
    if (
      typeof value === 'string' &&
      (key === 'email' || key === 'username' || key === context.userAuthIdentifier)
    ) {
      canonical[key] = foldIdentifier(checkStorableText(key, value))
    } else if (key === 'id') {
      const id = parseId(context.userRepository.idType, value as Id)
      if (id === null) return null
      canonical[key] = id
    } else {
      canonical[key] = checkStorableText(key, value)
    }
  }
  return context.userRepository.findOne(canonical)
}

/**
 * The body of `BaseUserService.listUsers`; see its documentation.
 *
 * @example
 * ```ts
 * const page = await listUsers(context, { limit: 20 })
 * ```
 */
export async function listUsers<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  query: Partial<UserListQuery>,
): Promise<UserPage<U>> {
  const limit = query.limit ?? 50
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ValidationError('limit', 'limit must be an integer from 1 to 1000')
  }
  const offset = query.offset ?? 0
  if (!Number.isInteger(offset) || offset < 0)
    throw new ValidationError('offset', 'offset must be a non-negative integer')
  const filters = { ...query.filters }
  for (const [key, value] of Object.entries(filters)) checkStorableText(key, value)
  if (typeof filters.role === 'string') filters.role = canonicalRoleName(filters.role, 'role')
  return context.userRepository.list({ ...query, filters, limit, offset })
}

/**
 * The body of `BaseUserService.updateUser`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await updateUser(context, id, { displayName: 'Ada' }, {})
 * ```
 */
export async function updateUser<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  id: Id,
  patch: UserPatch<U>,
  options: AdminActionOptions,
): Promise<U> {
  const current = await context.service.getUser(id)
  const record = checkFields(context, patch as Record<string, unknown>, 'update') as UserRecordPatch
  const { password } = patch as { password?: unknown }
  // An empty patch changes nothing and answers the user as they are (as the peers do): no write, so
  // `updatedAt` stays too.
  if (Object.keys(record).length === 0 && password === undefined) return current
  let endCredentials = false
  if (password !== undefined) {
    if (typeof password !== 'string') throw new ValidationError('password', 'password must be a string')
    record.passwordHash = await hashNewPassword(context, password, { ...current, ...record })
    endCredentials = true
  }
  const emailChanged = record.email !== undefined && record.email !== current.email
  if (emailChanged && !('isVerified' in record)) record.isVerified = false
  // An address set directly replaces any change the user asked for (whose links then die with the
  // credential version).
  if (emailChanged) record.pendingEmail = null
  // A new address ends every credential: sessions made for the old address must not come back to life
  // once the new one is verified.
  if (emailChanged) endCredentials = true
  if (record.isActive === false && current.isActive) endCredentials = true
  if (endCredentials) record.incrementAuthVersion = true
  let updated: U | null
  try {
    const write = () => context.userRepository.update(current.id, record)
    updated =
      record.isActive === false && current.isActive
        ? await context.adminGuard.run(
            { kind: 'user', userId: current.id, loses: 'everything' },
            options,
            write,
          )
        : await write()
  } catch (err) {
    throw translateConflict(context, err)
  }
  if (!updated) throw new NotFoundError('user')
  if (endCredentials) await endSessions(context, updated)
  if (password !== undefined) {
    context.logger.info({ event: 'authn_password_change', userId: updated.id }, 'password changed')
    context.notices.deliver('password-changed', updated, () =>
      context.service.sendPasswordChangedNotice(updated),
    )
  }
  if (emailChanged) {
    context.logger.info({ event: 'user_updated', userId: updated.id, change: 'email' }, 'email changed')
    const oldEmail = current.email
    context.notices.deliver('email-changed', updated, () =>
      context.service.sendEmailChangedNotice(updated, oldEmail),
    )
    // The rule lives here, not in a route: however the address was set (HTTP, CLI, code), an address
    // nobody proved is unverified and gets a link.
    if (!updated.isVerified) await context.service.initiateVerification(updated)
  }
  if (record.isActive === false && current.isActive) {
    context.logger.info(
      { event: 'user_updated', userId: updated.id, change: 'deactivated' },
      'user deactivated',
    )
  }
  return updated
}

/**
 * The body of `BaseUserService.changePassword`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await changePassword(context, id, 'current password', 'a new long passphrase')
 * ```
 */
export async function changePassword<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  id: Id,
  currentPassword: string,
  newPassword: string,
): Promise<U> {
  const user = await context.service.getUser(id)
  await provePassword(context, user, currentPassword, () => new WrongPasswordError(), 'password_change')
  if (typeof newPassword !== 'string') throw new ValidationError('password', 'password must be a string')
  const passwordHash = await hashNewPassword(context, newPassword, user)
  const updated = await context.userRepository.update(
    user.id,
    { passwordHash, incrementAuthVersion: true },
    { expect: { passwordHash: user.passwordHash, authVersion: user.authVersion } },
  )
  if (!updated) {
    context.logger.warn(
      { event: 'authn_password_change_fail', userId: user.id, reason: 'changed_concurrently' },
      'password changed by another request meanwhile',
    )
    throw new WrongPasswordError()
  }
  await endSessions(context, updated)
  context.logger.info({ event: 'authn_password_change', userId: updated.id }, 'password changed')
  context.notices.deliver('password-changed', updated, () =>
    context.service.sendPasswordChangedNotice(updated),
  )
  return updated
}

/**
 * The body of `BaseUserService.deleteUser`; see its documentation.
 *
 * @example
 * ```ts
 * const deleted = await deleteUser(context, id, { actorId: me.id })
 * ```
 */
export async function deleteUser<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  id: Id,
  options: AdminActionOptions,
): Promise<U> {
  const parsed = parseId(context.userRepository.idType, id)
  const deleted =
    parsed === null
      ? null
      : await context.adminGuard.run({ kind: 'user', userId: parsed, loses: 'everything' }, options, () =>
          context.userRepository.delete(parsed),
        )
  if (!deleted) throw new NotFoundError('user')
  await endSessions(context, deleted)
  context.logger.info({ event: 'user_deleted', userId: deleted.id }, 'user deleted')
  return deleted
}

/**
 * The body of `BaseUserService.revokeCredentials`; see its documentation.
 *
 * @example
 * ```ts
 * const user = await revokeCredentials(context, id) // logout everywhere
 * ```
 */
export async function revokeCredentials<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  id: Id,
): Promise<U> {
  const user = await context.service.getUser(id)
  const updated = await context.userRepository.update(user.id, { incrementAuthVersion: true })
  if (!updated) throw new NotFoundError('user')
  await endSessions(context, updated)
  context.logger.info(
    { event: 'authn_token_revoked', userId: updated.id, scope: 'all' },
    'credentials revoked',
  )
  return updated
}

/**
 * Starts an email change for a user who proves the current password; see
 * `BaseUserService.requestEmailChange`. `otherChanges` are applied with {@link updateUser} after the proof.
 *
 * @example
 * ```ts
 * const user = await requestEmailChange(context, id, 'new@example.com', 'current password')
 * ```
 */
export async function requestEmailChange<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  id: Id,
  newEmail: string,
  currentPassword: string,
  otherChanges?: UserPatch<U>,
): Promise<U> {
  let user = await context.service.getUser(id)
  // A malformed address is refused before the password check: it costs no hash and counts no failure.
  canonicalEmail(newEmail)
  await provePassword(context, user, currentPassword, () => new WrongPasswordError(), 'email_change')
  if (otherChanges && Object.keys(otherChanges).length > 0) {
    if ('email' in otherChanges || 'password' in otherChanges) {
      throw new ValidationError('email', 'pass the new address as `newEmail`, and change passwords apart')
    }
    user = await context.service.updateUser(user.id, otherChanges)
  }
  return emailChange.requestEmailChange(
    emailChange.emailChangeContext(context),
    emailFingerprint,
    user,
    newEmail,
  )
}
