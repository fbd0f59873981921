/**
 * The self-service email change: the new address is held as pending until a link mailed to it is opened
 * with the account's password; the current address keeps working meanwhile, is told, and gets a link that
 * cancels the change (and signs every session out). The user service calls these functions through thin
 * facade methods (`requestEmailChange`, `confirmEmailChange`, `cancelEmailChange`).
 *
 * Why each step is shaped so:
 * - Starting a change needs the current password: a stolen session alone cannot move the account to an
 *   address the thief reads.
 * - The address does not change until the new mailbox is proven: a typo cannot lock the owner out.
 * - Confirming needs the password too: a link alone must never attach an address to an account whose
 *   password the clicker did not choose (the "move a prepared account onto a victim's address" variant of
 *   pre-account hijacking).
 * - Confirming is one compare-and-set write (the pending address and the credential version must still be
 *   the ones the token names), so a link works once, and a taken address loses to the unique index (409).
 *
 * @module
 */

import {
  ConflictError,
  InactiveUserError,
  InvalidTokenError,
  NotFoundError,
  UserExistsError,
} from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { tokenPurposes } from '../tokens/token-codec.js'
import { provePassword } from './authentication.js'
import { canonicalEmail } from './identifiers.js'
import type { TokenSigning } from './ports.js'
import type { UserRepository } from './repositories.js'
import { endSessions, type ServiceContext, userFromToken } from './service-context.js'
import type { BaseUser, Role } from './user.js'

/** What the flow needs from the user service; built by the service, which owns the private parts. *
 * @example
 * ```ts
 * // Built from the service's context by emailChangeContext(), which brings the throttle and the mail queue.
 * await cancelEmailChange(context, emailFingerprint, token)
 * ```
 */
export interface EmailChangeContext<U extends BaseUser> {
  users: UserRepository<U>
  tokens: TokenSigning
  logger: Logger
  /** Lifetime of the confirm and cancel links, in seconds. */
  lifetimeSeconds: number
  /** The user a token's `sub` names; throws `InvalidTokenError` when gone. */
  userFromToken(sub: string): Promise<U>
  /**
   * Checks the account's password under the login throttle; throws the given error when it is wrong, and
   * `TooManyAttemptsError` while the identifier must wait.
   */
  provePassword(user: U, password: unknown, onWrong: () => Error, via: string): Promise<void>
  /** Ends every session row of the user (the credential version has already moved). */
  endSessions(user: U): Promise<void>
  /** Mails in the background: the confirm link to the new address, the cancel link to the current one. */
  mailChangeRequested(user: U, newEmail: string, confirmToken: string, cancelToken: string): void
  /** Tells the previous address that the change took effect. */
  mailChanged(user: U, oldEmail: string): void
}

/**
 * The fingerprint of an address as the email-change tokens carry it. A hash, not the address: tokens
 * travel in links, and links end up in logs and browser histories.
 *
 * @example
 * ```ts
 * const fingerprint: Fingerprint = emailFingerprint // from fingerprints.ts
 * ```
 */
export type Fingerprint = (email: string) => string

/**
 * Holds `newEmail` as the pending address of `user`, whose password the caller has just checked, and
 * mails both links. Returns the user with `pendingEmail` set (or cleared, when `newEmail` is the current
 * address: asking for it again drops a pending change). A new request replaces an older one, whose
 * confirm link then dies.
 *
 * @example
 * ```ts
 * // In the service, once the current password is proven:
 * const user = await requestEmailChange(context, emailFingerprint, current, 'new@example.com')
 * user.pendingEmail // 'new@example.com'; user.email is unchanged
 * ```
 */
export async function requestEmailChange<U extends BaseUser>(
  context: EmailChangeContext<U>,
  fingerprint: Fingerprint,
  user: U,
  newEmail: unknown,
): Promise<U> {
  const email = canonicalEmail(newEmail)
  if (!user.isActive) throw new InactiveUserError()
  if (email === user.email) {
    if (user.pendingEmail === null) return user
    const cleared = await context.users.update(user.id, { pendingEmail: null })
    if (!cleared) throw new NotFoundError('user')
    context.logger.info(
      { event: 'user_updated', userId: user.id, change: 'email_change_dropped' },
      'pending email change dropped',
    )
    return cleared
  }
  // Whether the address is taken is not checked here: the answer would tell a signed-in user which
  // addresses have accounts. The unique index decides at confirmation, where only the new mailbox's
  // holder learns it.
  const updated = await context.users.update(user.id, { pendingEmail: email })
  if (!updated) throw new NotFoundError('user')
  const confirmToken = context.tokens.sign(tokenPurposes.emailChange, {
    sub: String(updated.id),
    lifetimeSeconds: context.lifetimeSeconds,
    claims: { pf: fingerprint(email), ver: updated.authVersion },
  })
  const cancelToken = context.tokens.sign(tokenPurposes.emailChangeCancel, {
    sub: String(updated.id),
    lifetimeSeconds: context.lifetimeSeconds,
    claims: { ef: fingerprint(updated.email), ver: updated.authVersion },
  })
  context.logger.info(
    { event: 'user_updated', userId: updated.id, change: 'email_change_requested' },
    'email change requested',
  )
  context.mailChangeRequested(updated, email, confirmToken, cancelToken)
  return updated
}

/**
 * Completes a change with the token mailed to the new address and the account's password. The address
 * becomes `email` (verified: the link proved the mailbox), every other credential ends, and the previous
 * address is told. Throws `InvalidTokenError` (bad, expired, used, or replaced by a newer request),
 * `PasswordRequiredError` (through `onWrongPassword`) or `UserExistsError` (the address was taken since).
 *
 * @example
 * ```ts
 * const user = await confirmEmailChange(context, emailFingerprint, token, password, () => new PasswordRequiredError())
 * user.email // the address that was pending
 * ```
 */
export async function confirmEmailChange<U extends BaseUser>(
  context: EmailChangeContext<U>,
  fingerprint: Fingerprint,
  encodedToken: unknown,
  password: unknown,
  onWrongPassword: () => Error,
): Promise<U> {
  const claims = context.tokens.verify(encodedToken, tokenPurposes.emailChange)
  const user = await context.userFromToken(claims.sub)
  const pending = user.pendingEmail
  if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
  if (pending === null || typeof claims.pf !== 'string' || claims.pf !== fingerprint(pending)) {
    throw new InvalidTokenError('no such pending email change')
  }
  if (!user.isActive) throw new InvalidTokenError('inactive user')
  await context.provePassword(user, password, onWrongPassword, 'email_change_confirm')
  let updated: U | null
  try {
    updated = await context.users.update(
      user.id,
      { email: pending, pendingEmail: null, isVerified: true, incrementAuthVersion: true },
      { expect: { email: user.email, pendingEmail: pending, authVersion: user.authVersion } },
    )
  } catch (err) {
    if (err instanceof ConflictError) throw new UserExistsError('email', { cause: err })
    throw err
  }
  // Another request won the compare-and-set (a parallel confirm, a cancel, a password change...).
  if (!updated) throw new InvalidTokenError('already used')
  await context.endSessions(updated)
  context.logger.info({ event: 'user_updated', userId: updated.id, change: 'email' }, 'email changed')
  context.mailChanged(updated, user.email)
  return updated
}

/**
 * Cancels a pending change with the token mailed to the current address, and ends every credential of
 * the user: whoever started the change knew the password and held a session, so the owner, who did not
 * ask for it, is treated as the victim of a takeover. Works once (the credential version moves), and
 * also when the change was already replaced or dropped. Throws `InvalidTokenError`.
 *
 * @example
 * ```ts
 * const user = await cancelEmailChange(context, emailFingerprint, token)
 * user.pendingEmail // null; every session of the user has ended
 * ```
 */
export async function cancelEmailChange<U extends BaseUser>(
  context: EmailChangeContext<U>,
  fingerprint: Fingerprint,
  encodedToken: unknown,
): Promise<U> {
  const claims = context.tokens.verify(encodedToken, tokenPurposes.emailChangeCancel)
  const user = await context.userFromToken(claims.sub)
  if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
  if (typeof claims.ef !== 'string' || claims.ef !== fingerprint(user.email)) {
    throw new InvalidTokenError('email changed')
  }
  const updated = await context.users.update(
    user.id,
    { pendingEmail: null, incrementAuthVersion: true },
    { expect: { email: user.email, authVersion: user.authVersion } },
  )
  if (!updated) throw new InvalidTokenError('already used')
  await context.endSessions(updated)
  context.logger.warn(
    { event: 'user_updated', userId: updated.id, change: 'email_change_cancelled' },
    'email change cancelled from the current address; every credential ended',
  )
  return updated
}

/**
 * The flow's context from the service's: the throttle, the sessions and the mail queue of the service,
 * and its senders (called on the service, so a subclass's overrides run).
 *
 * @example
 * ```ts
 * await cancelEmailChange(emailChangeContext(context), emailFingerprint, token)
 * ```
 */
export function emailChangeContext<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
): EmailChangeContext<U> {
  const { service, notices } = context
  return {
    users: context.userRepository,
    tokens: context.tokens,
    logger: context.logger,
    lifetimeSeconds: context.tokenLifetimes.verification,
    userFromToken: (sub) => userFromToken(context, sub),
    provePassword: (user, password, onWrong, via) => provePassword(context, user, password, onWrong, via),
    endSessions: (user) => endSessions(context, user),
    mailChangeRequested: (user, newEmail, confirmToken, cancelToken) => {
      notices.deliver('email-change-confirm', user, () =>
        service.sendEmailChangeConfirmation(user, newEmail, confirmToken),
      )
      notices.deliver('email-change-requested', user, () =>
        service.sendEmailChangeRequestedNotice(user, newEmail, cancelToken),
      )
    },
    mailChanged: (user, oldEmail) =>
      notices.deliver('email-changed', user, () => service.sendEmailChangedNotice(user, oldEmail)),
  }
}
