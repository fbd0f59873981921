/**
 * The points of extension of `BaseUserService`: its hooks and its senders, each with its default. The
 * service extends this class, and its collaborators call these methods on the service, so an override in
 * an application's subclass runs whatever the flow that reaches it.
 *
 * @module
 */

import type { UserMailKind } from '../mail/messages.js'
import type { AuthenticationData } from './authentication.js'
import { Notices, type NoticesOptions } from './notices.js'
import type { LinkedAccount, OAuthIdentity } from './oauth-accounts.js'
import type { BaseUser } from './user.js'

let noticesOf: <U extends BaseUser>(hooks: UserServiceHooks<U, never>) => Notices<U>

/**
 * The hooks and senders of `BaseUserService` with their defaults; see there. Not meant to be extended
 * directly: subclass `BaseUserService`.
 *
 * @typeParam U - the user type.
 * @typeParam Req - the request type the hooks receive.
 *
 * @example
 * ```ts
 * class UserService extends BaseUserService<AppUser> {
 *   override async sendVerificationToken(user: AppUser, token: string) {
 *     await sms.send(user.phone, `Your code: ${token}`)
 *   }
 * }
 * ```
 */
export class UserServiceHooks<U extends BaseUser, Req> {
  readonly #notices: Notices<U>

  static {
    noticesOf = (hooks) => hooks.#notices
  }

  /** `mail` says how the default senders deliver; `onDeliveryError` of this class is called on failures. */
  constructor(mail: Omit<NoticesOptions<U>, 'onDeliveryError'>) {
    this.#notices = new Notices<U>({
      ...mail,
      onDeliveryError: (error, context) => this.onDeliveryError(error, context),
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Hooks: override in a subclass. Exceptions reach the caller unchanged.

  /** Runs before authentication; return `false` (or throw) to cancel the login. Default: allow. */
  async preLoginHook(_data: AuthenticationData, _request?: Req): Promise<boolean | undefined> {
    return true
  }

  /** Runs after a successful authentication. Default: nothing. */
  async postLoginHook(_user: U, _request?: Req): Promise<void> {}

  /**
   * Runs before a sign-in with an identity provider, with the identity it asserts; return `false` (or
   * throw) to refuse it. Default: allow.
   */
  async preOAuthLoginHook(_identity: OAuthIdentity, _request?: Req): Promise<boolean | undefined> {
    return true
  }

  /** Runs after a successful sign-in with an identity provider. Default: nothing. */
  async postOAuthLoginHook(_user: U, _identity: OAuthIdentity, _request?: Req): Promise<void> {}

  /** Runs after a provider identity is linked to a user (automatically or by the user). Default: nothing. */
  async postOAuthLinkHook(_user: U, _account: LinkedAccount, _request?: Req): Promise<void> {}

  /** Runs before registration, with the raw data (the plaintext password included). Throw to refuse. */
  async preRegistrationHook(_data: Record<string, unknown>, _request?: Req): Promise<void> {}

  /** Runs after a user is registered. An exception here reaches the caller, but the user exists. */
  async postRegistrationHook(_user: U, _request?: Req): Promise<void> {}

  /** Runs after a user verifies their email. */
  async postVerificationHook(_user: U, _request?: Req): Promise<void> {}

  /**
   * The application's own password rules, run after the length policy on registration, reset and every
   * password change. Throw a `PasswordPolicyError('rejected', reason)` to refuse. Default: accept.
   *
   * @example
   * ```ts
   * override async validatePassword(password: string, user: Partial<AppUser>) {
   *   if (password.toLowerCase().includes(user.email?.split('@')[0] ?? '\0')) {
   *     throw new PasswordPolicyError('rejected', 'the password must not contain your email')
   *   }
   * }
   * ```
   */
  async validatePassword(_password: string, _user: Partial<U>): Promise<void> {}

  /** Sends a verification token. Default: mails a link built from `mail.baseUrl` through the `mailer`. */
  async sendVerificationToken(user: U, token: string): Promise<void> {
    await this.#notices.send('verification', { to: user.email, token })
  }

  /** Sends a password reset token. Default: mails a link built from `mail.baseUrl` through the `mailer`. */
  async sendPasswordResetToken(user: U, token: string): Promise<void> {
    await this.#notices.send('password-reset', { to: user.email, token })
  }

  /**
   * Tells the owner of an address that someone tried to register with it; `resetToken` lets them set a
   * new password if it was them. Default: mails it.
   */
  async sendExistingAccountNotice(user: U, resetToken: string): Promise<void> {
    await this.#notices.send('existing-account', { to: user.email, token: resetToken })
  }

  /** Tells a user their password was changed. Default: mails it. */
  async sendPasswordChangedNotice(user: U): Promise<void> {
    await this.#notices.send('password-changed', { to: user.email })
  }

  /** Tells a user a passkey was added to their account. Default: mails it. */
  async sendPasskeyAddedNotice(user: U, passkeyName: string): Promise<void> {
    await this.#notices.send('passkey-added', { to: user.email, passkeyName })
  }

  /** Tells a user a passkey was removed from their account. Default: mails it. */
  async sendPasskeyRemovedNotice(user: U, passkeyName: string): Promise<void> {
    await this.#notices.send('passkey-removed', { to: user.email, passkeyName })
  }

  /**
   * Tells a user that a refresh token of theirs was used twice (a sign it was copied), and that the login
   * it belonged to has been ended. Default: mails it.
   */
  async sendRefreshTokenReuseNotice(user: U): Promise<void> {
    await this.#notices.send('refresh-token-reuse', { to: user.email })
  }

  /**
   * Tells a user a second factor (`factor`: `'totp'`, `'passkey'`...) was added or removed, or their
   * recovery codes were regenerated. Default: mails it.
   */
  async sendSecondFactorNotice(
    user: U,
    change: 'added' | 'removed' | 'recovery-codes-regenerated',
    factor: string,
  ): Promise<void> {
    await this.#notices.send('second-factor-changed', { to: user.email, change, factor })
  }

  /**
   * Sends the link that confirms a pending email change to the new address. Default: mails a link built
   * from `mail.baseUrl` and `mail.confirmEmailPath` through the `mailer`.
   */
  async sendEmailChangeConfirmation(_user: U, newEmail: string, token: string): Promise<void> {
    await this.#notices.send('email-change-confirm', { to: newEmail, token })
  }

  /**
   * Tells the current address that a change to `newEmail` was asked for, with a link that cancels it.
   * Default: mails a link built from `mail.baseUrl` and `mail.cancelEmailPath` through the `mailer`.
   */
  async sendEmailChangeRequestedNotice(user: U, newEmail: string, cancelToken: string): Promise<void> {
    await this.#notices.send('email-change-requested', {
      to: user.email,
      token: cancelToken,
      newEmail,
    })
  }

  /** Tells the old address of a user that their email was changed. Default: mails it. */
  async sendEmailChangedNotice(user: U, oldEmail: string): Promise<void> {
    await this.#notices.send('email-changed', { to: oldEmail, newEmail: user.email })
  }

  /**
   * Called when a sender failed. Mail goes out in the background and a failure never changes an answer
   * (no enumeration through errors); override this to retry or queue. Default: nothing (it is logged).
   */
  async onDeliveryError(_error: unknown, _context: { kind: UserMailKind; user: U }): Promise<void> {}

  /**
   * Resolves when every mail started so far has been handed over (or has failed), and every background
   * lookup of `initiatePasswordReset` and `requestVerification` has ended. For tests and shutdown.
   */
  async settled(): Promise<void> {
    await this.#notices.settled()
  }
}

/**
 * The background mail queue of a service, for its collaborators.
 *
 * @example
 * ```ts
 * const notices = serviceNotices(service)
 * ```
 */
export function serviceNotices<U extends BaseUser>(hooks: UserServiceHooks<U, never>): Notices<U> {
  return noticesOf(hooks)
}
