/**
 * The one error hierarchy of fastify-users. Every error the library throws on purpose is a
 * {@link FastifyUsersError} with a stable string `code`; HTTP statuses are assigned in exactly one place
 * (`fastify/error-handler.ts`), never here, so the core stays framework-agnostic.
 *
 * Misuse of the API (bad options, a short secret) is not part of this hierarchy: it throws `TypeError`
 * at construction, the way jose separates bad tokens from bad calls.
 *
 * @module
 */
import type {
  InvalidOtpError,
  LastLoginMethodError,
  MfaChallengeError,
  OAuthAccountInUseError,
  OAuthCallbackError,
  OAuthLinkRequiredError,
  StepUpRequiredError,
} from './account-errors.js'

/** Every stable error code, one per subclass. Codes are never reused for another meaning. */
export type FastifyUsersErrorCode =
  | 'ERR_USER_EXISTS'
  | 'ERR_NOT_FOUND'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_WRONG_PASSWORD'
  | 'ERR_PASSWORD_REQUIRED'
  | 'ERR_NOT_VERIFIED'
  | 'ERR_INACTIVE'
  | 'ERR_PASSWORD_POLICY'
  | 'ERR_VALIDATION'
  | 'ERR_ROLE_EXISTS'
  | 'ERR_ROLE_ALREADY_ASSIGNED'
  | 'ERR_ROLE_NOT_ASSIGNED'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_CROSS_ORIGIN'
  | 'ERR_CONFLICT'
  | 'ERR_BUSY'
  | 'ERR_TOO_MANY_ATTEMPTS'
  | 'ERR_DATABASE_UNAVAILABLE'
  | 'ERR_SELF_LOCKOUT'
  | 'ERR_LAST_ADMIN'
  | 'ERR_RATE_LIMITED'
  | 'ERR_ROUTE_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_BAD_URL'
  | 'ERR_URL_TOO_LONG'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_OAUTH_CALLBACK'
  | 'ERR_OAUTH_LINK_REQUIRED'
  | 'ERR_OAUTH_ACCOUNT_IN_USE'
  | 'ERR_LAST_LOGIN_METHOD'
  | 'ERR_INVALID_OTP'
  | 'ERR_MFA_CHALLENGE'
  | 'ERR_STEP_UP_REQUIRED'

/**
 * Base class of every error fastify-users throws on purpose.
 *
 * @example
 * ```ts
 * try {
 *   await service.register({ email, password })
 * } catch (err) {
 *   if (err instanceof FastifyUsersError && err.code === 'ERR_USER_EXISTS') { ... }
 * }
 * ```
 */
export abstract class FastifyUsersError extends Error {
  /** The stable code of this error; see {@link FastifyUsersErrorCode}. */
  abstract readonly code: FastifyUsersErrorCode

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A user with the same identifier (compared case-insensitively) already exists. */
export class UserExistsError extends FastifyUsersError {
  readonly code = 'ERR_USER_EXISTS'
  /** The field that collided, for example `'email'` or `'username'`. */
  readonly field: string
  constructor(field: string, options?: { cause?: unknown }) {
    super(`a user with this ${field} already exists`, options)
    this.field = field
  }
}

/** The requested user or role does not exist. */
export class NotFoundError extends FastifyUsersError {
  readonly code = 'ERR_NOT_FOUND'
  /** What was looked up: `'user'`, `'role'`, `'session'` or `'passkey'`. */
  readonly resource: 'user' | 'role' | 'session' | 'passkey'
  constructor(resource: 'user' | 'role' | 'session' | 'passkey', message = `${resource} not found`) {
    super(message)
    this.resource = resource
  }
}

/**
 * A verification or reset token was refused: tampered, expired, of another purpose, already used, or
 * bound to an email or password that has changed since. The reason is kept for logs, never shown to
 * the client, so a token cannot be probed.
 */
export class InvalidTokenError extends FastifyUsersError {
  readonly code = 'ERR_INVALID_TOKEN'
  /** Why the token was refused, for logs only. */
  readonly reason: string
  constructor(reason: string, options?: { cause?: unknown }) {
    super('the token is invalid or has expired', options)
    this.reason = reason
  }
}

/**
 * A valid verification link whose address is verified already (a second click). Still
 * `ERR_INVALID_TOKEN`, but its message says why: only the holder of the link, which went to the address's
 * mailbox, can get this answer, so it tells nothing to anyone else.
 *
 * @example
 * ```ts
 * if (err instanceof AlreadyVerifiedError) showLoginForm()
 * ```
 */
export class AlreadyVerifiedError extends InvalidTokenError {
  constructor() {
    super('already verified')
    this.message = 'already verified: the address of this link is verified, log in as usual'
  }
}

/** Login failed. One error for unknown user and wrong password, so neither can be told apart. */
export class InvalidCredentialsError extends FastifyUsersError {
  readonly code = 'ERR_INVALID_CREDENTIALS'
  constructor() {
    super('invalid credentials')
  }
}

/** The current password given to a password change is wrong. */
export class WrongPasswordError extends FastifyUsersError {
  readonly code = 'ERR_WRONG_PASSWORD'
  constructor() {
    super('the current password is wrong')
  }
}

/**
 * Completing an email verification needs the account's password, and it was missing or wrong. A link alone
 * never verifies an account: whoever registered may not own the mailbox, and the mailbox owner must not
 * make a stranger's password usable by clicking. Someone who does not know the password (they did not
 * register) uses the password reset instead, which also verifies the address.
 */
export class PasswordRequiredError extends FastifyUsersError {
  readonly code = 'ERR_PASSWORD_REQUIRED'
  constructor() {
    super(
      "verifying this address needs the account's password; if you did not choose one, reset the password instead",
    )
  }
}

/** The password was right, but the account's email address is not verified yet. */
export class NotVerifiedError extends FastifyUsersError {
  readonly code = 'ERR_NOT_VERIFIED'
  constructor() {
    super('the email address of this account is not verified')
  }
}

/** The password was right, but the account is deactivated. */
export class InactiveUserError extends FastifyUsersError {
  readonly code = 'ERR_INACTIVE'
  constructor() {
    super('this account is inactive')
  }
}

/** Why a password was refused by the policy. */
export type PasswordPolicyReason =
  | 'too_short'
  | 'too_long'
  | 'too_long_for_scheme'
  | 'common'
  | 'context'
  | 'breached'
  | 'rejected'

/**
 * A new password does not satisfy the password policy: length, a common password, a word from the user's
 * own data or the app's name, a breached password, or the application's own rule.
 */
export class PasswordPolicyError extends FastifyUsersError {
  readonly code = 'ERR_PASSWORD_POLICY'
  /** Machine-readable reason; `'rejected'` comes from the application's `validatePassword` hook. */
  readonly reason: PasswordPolicyReason
  constructor(reason: PasswordPolicyReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** An input value is malformed (an email address without `@`, an unknown field, a bad id...). */
export class ValidationError extends FastifyUsersError {
  readonly code = 'ERR_VALIDATION'
  /** The field that failed, in the camelCase of the API. */
  readonly field: string
  constructor(field: string, message: string) {
    super(message)
    this.field = field
  }
}

/** A role with the same name (compared case-insensitively) already exists. */
export class RoleExistsError extends FastifyUsersError {
  readonly code = 'ERR_ROLE_EXISTS'
  constructor(name: string) {
    super(`a role named '${name}' already exists`)
  }
}

/** `assignRole` was called for a role the user already has. */
export class RoleAlreadyAssignedError extends FastifyUsersError {
  readonly code = 'ERR_ROLE_ALREADY_ASSIGNED'
  constructor(roleName: string) {
    super(`the user already has the role '${roleName}'`)
  }
}

/** `revokeRole` was called for a role the user does not have. */
export class RoleNotAssignedError extends FastifyUsersError {
  readonly code = 'ERR_ROLE_NOT_ASSIGNED'
  constructor(roleName: string) {
    super(`the user does not have the role '${roleName}'`)
  }
}

/** No valid credential came with a request that needs one. */
export class UnauthenticatedError extends FastifyUsersError {
  readonly code = 'ERR_UNAUTHENTICATED'
  constructor(message = 'authentication required') {
    super(message)
  }
}

/** The caller is authenticated but not allowed (a missing role, an admin-only field). */
export class ForbiddenError extends FastifyUsersError {
  readonly code = 'ERR_FORBIDDEN'
  constructor(message = 'not allowed') {
    super(message)
  }
}

/** A state-changing request came from another origin and was refused (CSRF defence). */
export class CrossOriginError extends FastifyUsersError {
  readonly code = 'ERR_CROSS_ORIGIN'
  constructor() {
    super('cross-origin request refused')
  }
}

/**
 * A write collided with a unique constraint. Repositories throw it so the database, not a racy
 * check-then-insert, decides uniqueness; the service turns it into a more specific error where one exists.
 */
export class ConflictError extends FastifyUsersError {
  readonly code = 'ERR_CONFLICT'
  /** The camelCase field whose unique constraint was hit, when the database says which. */
  readonly field: string | undefined
  constructor(message: string, options?: { field?: string | undefined; cause?: unknown }) {
    super(message, options)
    this.field = options?.field
  }
}

/** Too many password hashes are already queued; the caller should retry later. */
export class BusyError extends FastifyUsersError {
  readonly code = 'ERR_BUSY'
  constructor() {
    super('the server is busy, try again shortly')
  }
}

/**
 * Too many consecutive failed password checks for this login identifier: the attempt was refused before
 * the password was looked at, and was not counted. The same answer comes for a known and an unknown
 * identifier, so it reveals nothing about who has an account; it never lasts longer than the configured
 * maximum delay (15 minutes by default), so it cannot lock an owner out for long.
 *
 * @example
 * ```ts
 * try {
 *   await service.authenticate({ email, password })
 * } catch (err) {
 *   if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds))
 * }
 * ```
 */
export class TooManyAttemptsError extends FastifyUsersError {
  readonly code = 'ERR_TOO_MANY_ATTEMPTS'
  /** Whole seconds (at least 1) until the next attempt is accepted; the HTTP `Retry-After`. */
  readonly retryAfterSeconds: number
  constructor(retryAfterSeconds: number) {
    // The message names no account and no count: it is the body of the 429, identical for everyone.
    super('too many failed attempts, try again later')
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/**
 * The database cannot be reached right now: connection refused or lost, the server shutting down or
 * restarting, the pool out of connections, or SQLite still locked by another process after the busy
 * timeout. Nothing was changed by the failed call (or, for a write whose commit was cut off, the caller
 * cannot know, exactly as with any lost connection); retrying after a moment is safe, and the service
 * recovers by itself once the database answers again. The persistence layer recognises the drivers' error
 * codes and throws this instead, so neither the core nor the HTTP layer ever looks at a driver code.
 *
 * @example
 * ```ts
 * try {
 *   await service.getUser(id)
 * } catch (err) {
 *   if (err instanceof DatabaseUnavailableError) reply.header('retry-after', String(err.retryAfterSeconds))
 * }
 * ```
 */
export class DatabaseUnavailableError extends FastifyUsersError {
  readonly code = 'ERR_DATABASE_UNAVAILABLE'
  /** Whole seconds a client should wait before retrying; the HTTP `Retry-After`. Default: `2`. */
  readonly retryAfterSeconds: number
  constructor(options?: { cause?: unknown; retryAfterSeconds?: number }) {
    // Says nothing about the database (no host, no driver message): it is the body of the 503.
    super('the database is unavailable, try again shortly', options)
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 2
  }
}

/**
 * An administrator tried to take their own administration away: deactivate or delete themselves, revoke
 * their own (last) admin role, or delete the admin role they hold. Refused, so that no admin can lock
 * themselves out by a slip; another admin (or the CLI) can do it.
 */
export class SelfLockoutError extends FastifyUsersError {
  readonly code = 'ERR_SELF_LOCKOUT'
  constructor(message = 'you cannot remove your own administration rights') {
    super(message)
  }
}

/**
 * The change would leave no active holder of an admin role: deleting, deactivating or taking the role
 * from the last active admin, or deleting the last admin role still held. Only the CLI (`--force`) can.
 */
export class LastAdminError extends FastifyUsersError {
  readonly code = 'ERR_LAST_ADMIN'
  constructor(message = 'this would leave no active administrator') {
    super(message)
  }
}

/**
 * Too many requests from one client address to a group of public routes (the per-IP rate limit of the
 * Fastify plugin). The HTTP answer is a 429 with `Retry-After`.
 */
export class RateLimitedError extends FastifyUsersError {
  readonly code = 'ERR_RATE_LIMITED'
  /** Whole seconds (at least 1) until the window resets; the HTTP `Retry-After`. */
  readonly retryAfterSeconds: number
  constructor(retryAfterSeconds: number) {
    super('too many requests, try again later')
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  }
}

/** No route of the plugin has this path (answered under the plugin's paths only). */
export class RouteNotFoundError extends FastifyUsersError {
  readonly code = 'ERR_ROUTE_NOT_FOUND'
  constructor() {
    super('no such route')
  }
}

/** The path exists, but not with this method; {@link allow} lists the methods it has (the `Allow` header). */
export class MethodNotAllowedError extends FastifyUsersError {
  readonly code = 'ERR_METHOD_NOT_ALLOWED'
  /** The methods the path accepts, for example `['GET', 'HEAD', 'PATCH']`. */
  readonly allow: readonly string[]
  constructor(method: string, allow: readonly string[]) {
    super(`${method} is not allowed here; allowed: ${allow.join(', ')}`)
    this.allow = allow
  }
}

/** The request's path is not valid percent-encoding. */
export class BadUrlError extends FastifyUsersError {
  readonly code = 'ERR_BAD_URL'
  constructor() {
    super('the URL is not valid percent-encoding')
  }
}

/** A path segment (an id, for example) is longer than the router accepts. */
export class UrlTooLongError extends FastifyUsersError {
  readonly code = 'ERR_URL_TOO_LONG'
  constructor() {
    super('a path segment of the URL is too long')
  }
}

/** The server is shutting down and takes no new requests; retry on another instance or later. */
export class ShuttingDownError extends FastifyUsersError {
  readonly code = 'ERR_SHUTTING_DOWN'
  constructor() {
    super('the server is shutting down, try again shortly')
  }
}

export type AnyFastifyUsersError =
  | UserExistsError
  | NotFoundError
  | InvalidTokenError
  | InvalidCredentialsError
  | WrongPasswordError
  | PasswordRequiredError
  | NotVerifiedError
  | InactiveUserError
  | PasswordPolicyError
  | ValidationError
  | RoleExistsError
  | RoleAlreadyAssignedError
  | RoleNotAssignedError
  | UnauthenticatedError
  | ForbiddenError
  | CrossOriginError
  | ConflictError
  | BusyError
  | TooManyAttemptsError
  | DatabaseUnavailableError
  | SelfLockoutError
  | LastAdminError
  | RateLimitedError
  | RouteNotFoundError
  | MethodNotAllowedError
  | BadUrlError
  | UrlTooLongError
  | ShuttingDownError
  | OAuthCallbackError
  | OAuthLinkRequiredError
  | OAuthAccountInUseError
  | LastLoginMethodError
  | InvalidOtpError
  | MfaChallengeError
  | StepUpRequiredError
