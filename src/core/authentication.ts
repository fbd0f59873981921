/**
 * Password checks: the login (`authenticate`) and the proof of the current password that other flows ask
 * for (password change, verification, email change), all under the one login throttle.
 *
 * @module
 */
import { InactiveUserError, NotVerifiedError, ValidationError } from '../kernel/errors.js'
import { canonicalIdentifier } from './identifiers.js'
import type { LoginAttempt } from './login-throttle.js'
import type { ServiceContext } from './service-context.js'
import type { BaseUser, Id, Role } from './user.js'

/**
 * Data accepted by `authenticate`: the identifier field (named by `userAuthIdentifier`) and `password`.
 *
 * @example
 * ```ts
 * const data: AuthenticationData = { email: 'ada@example.com', password: 'correct horse battery' }
 * ```
 */
export interface AuthenticationData {
  password: string
  [identifier: string]: unknown
}

/**
 * The login: see `BaseUserService.authenticate` for the order of the steps and what each answer means.
 *
 * @example
 * ```ts
 * const user = await authenticate(context, { email: 'ada@example.com', password }, request)
 * ```
 */
export async function authenticate<U extends BaseUser, Req>(
  context: ServiceContext<U, Role, Req>,
  data: AuthenticationData,
  request?: Req,
): Promise<U | null> {
  const { service, userRepository, userAuthIdentifier, logger } = context
  if ((await service.preLoginHook(data, request)) === false) return null
  // Keyed by what was typed, not by the account found: an unknown identifier is throttled exactly like a
  // known one, and the refusal comes before the lookup, so neither its answer nor its timing tells them
  // apart (docs/security.md, "Enumeration and timing" and "Login throttling").
  const attempt = await beginAttempt(context, data[userAuthIdentifier], null)
  const password = typeof data.password === 'string' ? data.password : ''
  let user: U | null = null
  let newHash: string | undefined
  try {
    try {
      const identifier = canonicalIdentifier(userAuthIdentifier, data[userAuthIdentifier])
      user = await userRepository.findOne({ [userAuthIdentifier]: identifier })
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
    }
    const checked = await context.passwords.verify(password, user?.passwordHash ?? null)
    if (!user || !checked.valid) {
      const failures = await attempt?.fail()
      logger.warn({ event: 'authn_login_fail', userId: user?.id ?? null, failures }, 'login failed')
      return null
    }
    newHash = checked.newHash
    // The password is proven, whatever the account checks below decide: earlier failures no longer count.
    await attempt?.succeed()
  } finally {
    await attempt?.abandon()
  }
  if (newHash) {
    // Same password, stronger hash: no credential needs to end. Compare-and-set on the hash just checked,
    // so a password changed meanwhile is never overwritten by the upgrade of the old one.
    user =
      (await userRepository.update(
        user.id,
        { passwordHash: newHash },
        { expect: { passwordHash: user.passwordHash } },
      )) ?? user
  }
  if (!user.isActive) {
    logger.warn({ event: 'authn_login_fail', userId: user.id, reason: 'inactive' }, 'login refused')
    throw new InactiveUserError()
  }
  if (context.requireVerificationOnRegistration && !user.isVerified) {
    logger.warn({ event: 'authn_login_fail', userId: user.id, reason: 'not_verified' }, 'login refused')
    throw new NotVerifiedError()
  }
  await service.postLoginHook(user, request)
  logger.info({ event: 'authn_login_success', userId: user.id }, 'login succeeded')
  return user
}

/**
 * Checks a user's password under the login throttle, keyed like their logins: a wrong one counts as a
 * failed login and throws `onWrong()`, and past the limit `TooManyAttemptsError` comes before any hash
 * work, so no route that asks for the password is a faster oracle than the login. A right one clears the
 * count.
 *
 * @example
 * ```ts
 * await provePassword(context, user, currentPassword, () => new WrongPasswordError(), 'password_change')
 * ```
 */
export async function provePassword<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  user: U,
  password: unknown,
  onWrong: () => Error,
  via: string,
): Promise<void> {
  // No password at all is no guess: refused without a hash and without counting.
  if (typeof password !== 'string' || password.length === 0) throw onWrong()
  const identifier = (user as Record<string, unknown>)[context.userAuthIdentifier]
  const attempt = await beginAttempt(context, identifier, user.id)
  try {
    const { valid } = await context.passwords.verify(password, user.passwordHash)
    if (!valid) {
      const failures = await attempt?.fail()
      context.logger.warn(
        { event: 'authn_password_change_fail', userId: user.id, failures, via },
        'wrong current password',
      )
      throw onWrong()
    }
    await attempt?.succeed()
  } finally {
    await attempt?.abandon()
  }
}

/**
 * Forgets the failed logins of every identifier the user logs in with (the email, and the identifier): a
 * completed password reset unlocks the account.
 *
 * @example
 * ```ts
 * await clearLoginFailures(context, user) // after a completed reset
 * ```
 */
export async function clearLoginFailures<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  user: U,
): Promise<void> {
  if (!context.loginThrottle) return
  const identifiers = [user.email]
  const identifier = (user as Record<string, unknown>)[context.userAuthIdentifier]
  if (typeof identifier === 'string') identifiers.push(identifier)
  await context.loginThrottle.clear(identifiers)
}

async function beginAttempt<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  identifier: unknown,
  userId: Id | null,
): Promise<LoginAttempt | null> {
  const throttle = context.loginThrottle
  return throttle ? throttle.begin(throttle.keyOf(identifier), userId) : null
}
