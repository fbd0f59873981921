/**
 * The errors of the account-security features: sign-in with identity providers and second factors. Part
 * of the one hierarchy of `errors.ts` (each is a `FastifyUsersError` with a stable code, listed in
 * `FastifyUsersErrorCode` and `AnyFastifyUsersError`); apart only to keep files small.
 *
 * @module
 */
import { FastifyUsersError } from './errors.js'

/**
 * An identity provider's answer could not be accepted: a missing or tampered `state`, a PKCE or `nonce`
 * mismatch, an expired or foreign flow cookie, an error from the provider, a failed token exchange.
 * Nothing was changed; the user starts the sign-in again.
 */
export class OAuthCallbackError extends FastifyUsersError {
  readonly code = 'ERR_OAUTH_CALLBACK'
  constructor(
    reason = 'the sign-in with the identity provider could not be completed; start it again',
    options?: { cause?: unknown },
  ) {
    super(reason, options)
  }
}

/**
 * A one-time code (TOTP or recovery code) was wrong, already used, or missing, while the user is logged in
 * (confirming an enrolment, proving a recent login). At the second login step a wrong code answers
 * `ERR_INVALID_CREDENTIALS` instead, like a wrong password.
 */
export class InvalidOtpError extends FastifyUsersError {
  readonly code = 'ERR_INVALID_OTP'
  constructor() {
    super('the code is wrong or was already used')
  }
}

/**
 * A provider identity carries the email of an existing account, but the provider has not verified that
 * email or the account is not verified: the identity is not linked automatically. The user logs in with
 * their password first and links the provider from their account.
 */
export class OAuthLinkRequiredError extends FastifyUsersError {
  readonly code = 'ERR_OAUTH_LINK_REQUIRED'
  constructor() {
    super(
      'an account with this email already exists: log in to it first, then link this provider from your account',
    )
  }
}

/** The provider identity is already linked to another account. */
export class OAuthAccountInUseError extends FastifyUsersError {
  readonly code = 'ERR_OAUTH_ACCOUNT_IN_USE'
  constructor() {
    super('this provider account is already linked to another user')
  }
}

/** Unlinking would leave the account with no way to log in (no password and no other provider). */
export class LastLoginMethodError extends FastifyUsersError {
  readonly code = 'ERR_LAST_LOGIN_METHOD'
  constructor() {
    super(
      'this is the last way to log in to the account: set a password, link a provider or add a passkey first',
    )
  }
}

/**
 * The second login step's challenge is unknown, expired, already used, voided by a password change, or
 * burnt by too many wrong codes: log in with the password again.
 */
export class MfaChallengeError extends FastifyUsersError {
  readonly code = 'ERR_MFA_CHALLENGE'
  constructor() {
    super('the login challenge is invalid or expired, log in again')
  }
}

/**
 * The action needs a recent proof of identity (a password or a second-factor code given within the
 * step-up window, `POST /users/me/reauthenticate`), and this credential has none.
 */
export class StepUpRequiredError extends FastifyUsersError {
  readonly code = 'ERR_STEP_UP_REQUIRED'
  constructor() {
    super('this action needs a recent proof of identity: reauthenticate first')
  }
}

/** Every concrete error, so that `switch (err.code)` narrows to the right class. */
