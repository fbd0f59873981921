/**
 * What the collaborators of `BaseUserService` share: the resolved options, the mail queue, and the
 * service itself for the hooks and senders (called on the service, so a subclass's override is the one
 * that runs). Also the small steps several flows take alike.
 *
 * @module
 */
import { ConflictError, InvalidTokenError, UserExistsError, ValidationError } from '../kernel/errors.js'
import { normalizePassword } from '../password/password-policy.js'
import { canonicalEmail } from './identifiers.js'
import type { Notices } from './notices.js'
import type { PasswordHashing, TokenSigning } from './ports.js'
import type { ResolvedServiceOptions } from './service-options.js'
import type { BaseUser, Id, Role } from './user.js'
import { parseId } from './user-fields.js'

/**
 * The overridable methods of `BaseUserService` the flows call back into: hooks, senders, and the few
 * public steps a subclass may reshape (`generateToken`, `initiateVerification`, `getUser`).
 *
 * @example
 * ```ts
 * // BaseUserService passes itself: context.service.sendVerificationToken(user, token)
 * ```
 */
export interface ServiceCallbacks<U extends BaseUser, Req> {
  preLoginHook(data: Record<string, unknown>, request?: Req): Promise<boolean | undefined>
  postLoginHook(user: U, request?: Req): Promise<void>
  preRegistrationHook(data: Record<string, unknown>, request?: Req): Promise<void>
  postRegistrationHook(user: U, request?: Req): Promise<void>
  postVerificationHook(user: U, request?: Req): Promise<void>
  validatePassword(password: string, user: Partial<U>): Promise<void>
  sendVerificationToken(user: U, token: string): Promise<void>
  sendPasswordResetToken(user: U, token: string): Promise<void>
  sendExistingAccountNotice(user: U, resetToken: string): Promise<void>
  sendPasswordChangedNotice(user: U): Promise<void>
  sendEmailChangeConfirmation(user: U, newEmail: string, token: string): Promise<void>
  sendEmailChangeRequestedNotice(user: U, newEmail: string, cancelToken: string): Promise<void>
  sendEmailChangedNotice(user: U, oldEmail: string): Promise<void>
  generateToken(userId: Id, aud: string, claims?: Record<string, unknown>, lifetimeSeconds?: number): string
  initiateVerification(user: U): Promise<void>
  getUser(id: Id): Promise<U>
  updateUser(id: Id, patch: Record<string, unknown>): Promise<U>
}

/**
 * The shared context of the service's collaborators, built once by `BaseUserService`.
 *
 * @example
 * ```ts
 * await endSessions(context, user)
 * ```
 */
export interface ServiceContext<U extends BaseUser, R extends Role, Req>
  extends Omit<ResolvedServiceOptions<U, R>, 'passwords' | 'passwordPolicy' | 'tokens'> {
  /** Hashing, through its port: the collaborators need no concrete password manager. */
  passwords: PasswordHashing
  /** Tokens, through their port. */
  tokens: TokenSigning
  /** The service (the facade), for hooks and senders. */
  service: ServiceCallbacks<U, Req>
  /** The background mail queue. */
  notices: Notices<U>
}

/**
 * Deletes every session row of the user at once (their credential version has moved, or they are gone).
 *
 * @example
 * ```ts
 * await endSessions(context, updated) // after the credential version moved
 * ```
 */
export async function endSessions<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  user: U,
): Promise<void> {
  if (context.sessionRepository) await context.sessionRepository.deleteForUser(user.id)
}

/**
 * The user a token's `sub` names; throws {@link InvalidTokenError} when there is none.
 *
 * @example
 * ```ts
 * const user = await userFromToken(context, claims.sub)
 * ```
 */
export async function userFromToken<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  sub: string,
): Promise<U> {
  const id = parseId(context.userRepository.idType, sub)
  const user = id === null ? null : await context.userRepository.findById(id)
  if (!user) throw new InvalidTokenError('user gone')
  return user
}

/**
 * The user with this address, or `null` when there is none or the value cannot be an address.
 *
 * @example
 * ```ts
 * const user = await findByEmail(context, 'Ada@Example.com')
 * ```
 */
export async function findByEmail<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  email: unknown,
): Promise<U | null> {
  try {
    return await context.userRepository.findOne({ email: canonicalEmail(email) })
  } catch (err) {
    if (err instanceof ValidationError) return null
    throw err
  }
}

/**
 * Checks a new password against the policy and the application's `validatePassword`, then hashes it.
 * The policy sees the NFKC form (what the user meant); the hasher normalises on its own.
 *
 * @example
 * ```ts
 * record.passwordHash = await hashNewPassword(context, password, record)
 * ```
 */
export async function hashNewPassword<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  password: string,
  user: Partial<U> | Record<string, unknown>,
): Promise<string> {
  if (typeof password !== 'string') throw new ValidationError('password', 'password must be a string')
  const normalised = normalizePassword(password)
  await context.checkNewPassword(normalised, user as Record<string, unknown>)
  await context.service.validatePassword(normalised, user as Partial<U>)
  return context.passwords.hash(password)
}

/**
 * A repository's `ConflictError` as the {@link UserExistsError} of the field that collided.
 *
 * @example
 * ```ts
 * throw translateConflict(context, err) // ConflictError -> UserExistsError
 * ```
 */
export function translateConflict(context: ServiceContext<BaseUser, Role, unknown>, err: unknown): unknown {
  if (err instanceof ConflictError) {
    const field =
      err.field && err.field !== 'id' ? err.field : err.field === 'id' ? 'id' : context.userAuthIdentifier
    return new UserExistsError(field, { cause: err })
  }
  return err
}
