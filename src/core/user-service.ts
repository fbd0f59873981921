/**
 * `BaseUserService`: the user-management core, the TypeScript counterpart of litestar-users'
 * `BaseUserService`. Every method of litestar-users' service exists here in camelCase with the same
 * meaning; subclass it to override the hooks and the senders, exactly as with litestar-users.
 *
 * This class is the facade: it holds the public API, the hooks and the senders, and hands each job to a
 * small collaborator (`login-throttle.ts`, `authentication.ts`, `user-fields.ts`, `notices.ts`,
 * `verification.ts`, `password-reset.ts`, `email-change.ts`, `role-admin.ts`, `service-options.ts`). The
 * collaborators call back into the service for hooks and senders, so a subclass's overrides run whatever
 * the flow.
 *
 * It imports no web framework and no database driver: it talks to repositories (ports), a password
 * manager and a token codec, and takes the framework's request object as an opaque value.
 *
 * @module
 */

import type { Clock } from '../kernel/clock.js'
import {
  NotFoundError,
  PasswordRequiredError,
  ValidationError,
  WrongPasswordError,
} from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import type { PasswordManager } from '../password/password-manager.js'
import type { PasswordPolicy } from '../password/password-policy.js'
import { type TokenCodec, tokenPurposes } from '../tokens/token-codec.js'
import type { AdminActionOptions, AdminGuard } from './admin-guard.js'
import { type AuthenticationData, authenticate, provePassword } from './authentication.js'
import * as emailChange from './email-change.js'
import { emailFingerprint } from './fingerprints.js'
import { type PurgeResult, purgeExpired } from './housekeeping.js'
import type { LoginThrottleOptions } from './login-throttle.js'
import type { MailCap } from './mail-cap.js'
import * as oauth from './oauth-accounts.js'
import * as passwordReset from './password-reset.js'
import type { RefreshTokenStore } from './refresh-tokens.js'
import type {
  LoginAttemptStore,
  RoleRepository,
  SessionRepository,
  TokenDenylist,
  UserListQuery,
  UserPage,
  UserRepository,
} from './repositories.js'
import * as roles from './role-admin.js'
import type { ServiceContext } from './service-context.js'
import { serviceNotices, UserServiceHooks } from './service-hooks.js'
import { resolveServiceOptions, type TokenLifetimes, type UserServiceOptions } from './service-options.js'
import { SessionAdmin } from './session-admin.js'
import type { BaseUser, Id, NewUser, Role, UserPatch } from './user.js'
import type { AddUserOptions } from './user-admin.js'
import * as users from './user-admin.js'
import { parseId } from './user-fields.js'
import { signUserToken } from './user-tokens.js'
import * as verification from './verification.js'

export type { AuthenticationData } from './authentication.js'
export { emailFingerprint, loginAttemptKey, passwordFingerprint } from './fingerprints.js'
export type { PurgeResult } from './housekeeping.js'
export type { LoginThrottleOptions } from './login-throttle.js'
export type { LinkedAccount, OAuthAccountRepository, OAuthIdentity } from './oauth-accounts.js'
export type { TokenLifetimes, UserServiceOptions } from './service-options.js'
export type { AddUserOptions } from './user-admin.js'

/**
 * The user service. Subclass it to override hooks and senders; every method of litestar-users'
 * `BaseUserService` exists here in camelCase.
 *
 * @typeParam U - the user type, `BaseUser` plus the application's custom fields.
 * @typeParam R - the role type.
 * @typeParam Req - the request type the hooks receive (the Fastify plugin passes `FastifyRequest`).
 *
 * @example
 * ```ts
 * class UserService extends BaseUserService<AppUser> {
 *   override async postRegistrationHook(user: AppUser) {
 *     await crm.addLead(user.email)
 *   }
 * }
 * const service = new UserService({ secret, userRepository, roleRepository })
 * const user = await service.register({ email: 'ada@example.com', password: 'correct horse battery' })
 * ```
 */
export class BaseUserService<
  U extends BaseUser = BaseUser,
  R extends Role = Role,
  Req = unknown,
> extends UserServiceHooks<U, Req> {
  /** The column users log in with. */
  readonly userAuthIdentifier: string
  readonly userRepository: UserRepository<U>
  readonly roleRepository: RoleRepository<R> | undefined
  readonly sessionRepository: SessionRepository | undefined
  /** The deny-list of logged-out JWTs, when given; the plugin's JWT backends use it. */
  readonly tokenDenylist: TokenDenylist | undefined
  /** Where the JWT backends keep refresh tokens, when given. */
  readonly refreshTokenStore: RefreshTokenStore | undefined
  /** Where failed password checks are counted; `undefined` when throttling is off. */
  readonly loginAttemptStore: LoginAttemptStore | undefined
  /**
   * The resolved throttling settings, in seconds, or `null` when throttling is off (`loginThrottle: false`,
   * or no `loginAttemptStore`).
   */
  readonly loginThrottle: Readonly<Required<LoginThrottleOptions>> | null
  /** Whether new users must verify their email before they can log in. */
  readonly requireVerificationOnRegistration: boolean
  /** Resolved token lifetimes, in seconds. */
  readonly tokenLifetimes: Required<TokenLifetimes>
  /** The password hasher (and upgrader). */
  readonly passwords: PasswordManager
  /** The policy applied to every new password (length, common, context, breached). */
  readonly passwordPolicy: PasswordPolicy
  /** The token signer and verifier. */
  readonly tokens: TokenCodec
  readonly clock: Clock
  readonly logger: Logger
  /** Keeps at least one active admin, and admins from locking themselves out. */
  readonly adminGuard: AdminGuard<U>
  /** The cap on mails to one address, or `null` when off. */
  readonly mailCap: MailCap | null
  /**
   * The user's sessions of every kind: `sessions.list(userId, currentCredentialId)`, `end`, `endOthers`
   * ("log out everywhere else"); "log out everywhere" is {@link revokeCredentials}. Another credential kind
   * adds its source with `addSource`.
   */
  readonly sessions: SessionAdmin
  /** The users' linked identity-provider accounts: `signIn`, `link`, `unlink`, `list` (oauth-accounts.ts). */
  readonly oauth: oauth.OAuthAccounts<U, Req>
  /** What the collaborators share; the service itself answers their calls for hooks and senders. */
  readonly #context: ServiceContext<U, R, Req>

  constructor(options: UserServiceOptions<U, R>) {
    const resolved = resolveServiceOptions(options)
    super({ mailCap: resolved.mailCap, post: resolved.post, logger: resolved.logger })
    this.userAuthIdentifier = resolved.userAuthIdentifier
    this.userRepository = resolved.userRepository
    this.roleRepository = resolved.roleRepository
    this.sessionRepository = resolved.sessionRepository
    this.tokenDenylist = resolved.tokenDenylist
    this.refreshTokenStore = resolved.refreshTokenStore
    this.loginThrottle = resolved.loginThrottle?.settings ?? null
    this.loginAttemptStore = resolved.loginThrottle?.store
    this.requireVerificationOnRegistration = resolved.requireVerificationOnRegistration
    this.tokenLifetimes = resolved.tokenLifetimes
    this.passwords = resolved.passwords
    this.passwordPolicy = resolved.passwordPolicy
    this.tokens = resolved.tokens
    this.clock = resolved.clock
    this.logger = resolved.logger
    this.adminGuard = resolved.adminGuard
    this.mailCap = resolved.mailCap
    this.sessions = new SessionAdmin({
      ...resolved,
      now: () => this.clock.now(),
      logger: this.logger,
    })
    this.#context = { ...resolved, service: this, notices: serviceNotices(this) }
    this.oauth = new oauth.OAuthAccounts({ ...this.#context, oauthHooks: this })
  }

  // ---------------------------------------------------------------------------------------------------
  // Users

  /**
   * Creates a user programmatically (no hooks, no mail). `password` is policy-checked and hashed;
   * `passwordHash` is stored as given (imports). A duplicate identifier, compared case-insensitively and
   * decided by the database's unique index, throws {@link UserExistsError}.
   */
  async addUser(user: NewUser<U>, options: AddUserOptions = {}): Promise<U> {
    return users.addUser(this.#context, user, options)
  }

  /**
   * Registers a user: `preRegistrationHook`, password policy and hash, `addUser`, the default roles,
   * `initiateVerification` when verification is required, `postRegistrationHook`.
   *
   * A taken identifier throws {@link UserExistsError}; when verification is required, the owner of the
   * taken address is first sent a notice (with a password reset link) instead of a token, so the HTTP
   * layer can answer a new and a taken address alike (see "Enumeration and timing" in docs/security.md).
   */
  async register(data: Record<string, unknown>, request?: Req): Promise<U> {
    return users.register(this.#context, data, request)
  }

  /** The user with this id; throws {@link NotFoundError}. */
  async getUser(id: Id): Promise<U> {
    const parsed = this.parseId(id)
    const user = parsed === null ? null : await this.userRepository.findById(parsed)
    if (!user) throw new NotFoundError('user')
    return user
  }

  /**
   * The first user matching every filter (camelCase columns), or `null`. `email`, `username` and the
   * login identifier are compared case-insensitively.
   *
   * @example
   * ```ts
   * const john = await service.getUserBy({ email: 'John@Example.com' })
   * ```
   */
  async getUserBy(filters: Record<string, unknown>): Promise<U | null> {
    return users.getUserBy(this.#context, filters)
  }

  /** One page of users with the total count and a cursor for the next page. */
  async listUsers(query: Partial<UserListQuery> = {}): Promise<UserPage<U>> {
    return users.listUsers(this.#context, query)
  }

  /** litestar-users' `list_and_count_users`: `[users, total]`. See {@link listUsers} for the cursor. */
  async listAndCountUsers(query: Partial<UserListQuery> = {}): Promise<[U[], number]> {
    const page = await this.listUsers(query)
    return [page.items, page.total]
  }

  /**
   * Updates a user. A `password` is policy-checked and hashed; an email change resets `isVerified` (unless
   * the patch sets it), tells the old address and mails the new one a verification link, whoever calls; a
   * password, an email or a deactivation ends every credential of the user. Unknown fields throw
   * {@link ValidationError}. An empty patch returns the user unchanged without writing.
   */
  async updateUser(id: Id, patch: UserPatch<U>, options: AdminActionOptions = {}): Promise<U> {
    return users.updateUser(this.#context, id, patch, options)
  }

  /**
   * Changes the password of a user who proves the current one. A wrong current password throws
   * {@link WrongPasswordError}; the new one passes the policy; every credential of the user ends.
   *
   * A wrong current password counts as a failed login of the user's identifier, and the same throttle
   * applies ({@link TooManyAttemptsError}, before any hash work), so a stolen session cannot be used to
   * guess the password faster than the login route allows (see "Login throttling" in docs/security.md).
   *
   * Changes are serialised by a compare-and-set on the password hash that was checked: of parallel
   * changes proving the same current password exactly one is applied, and the others throw
   * {@link WrongPasswordError}, as they would a moment later, since the password they proved is no longer
   * the current one (they are not counted as failures).
   */
  async changePassword(id: Id, currentPassword: string, newPassword: string): Promise<U> {
    return users.changePassword(this.#context, id, currentPassword, newPassword)
  }

  /**
   * Starts a change of the user's email address; the user proves the current password first (a wrong one
   * throws {@link WrongPasswordError} and counts as a failed login of the user, as in
   * {@link changePassword}). The address does not change yet: it is stored as `pendingEmail`, a link that
   * confirms it goes to the new address (`sendEmailChangeConfirmation`) and a notice with a link that
   * cancels it goes to the current one (`sendEmailChangeRequestedNotice`). The current address keeps
   * working for login and mail until the change is confirmed. Asking for the current address drops a
   * pending change. `otherChanges` (other self-editable fields) are applied with {@link updateUser} after
   * the password proof, before the address is held.
   *
   * Admins set an address directly with {@link updateUser} instead.
   *
   * @example
   * ```ts
   * const user = await service.requestEmailChange(me.id, 'new@example.com', 'my current password')
   * user.email // unchanged; user.pendingEmail === 'new@example.com'
   * ```
   */
  async requestEmailChange(
    id: Id,
    newEmail: string,
    currentPassword: string,
    otherChanges?: UserPatch<U>,
  ): Promise<U> {
    return users.requestEmailChange(this.#context, id, newEmail, currentPassword, otherChanges)
  }

  /**
   * Completes an email change with the token mailed to the new address and the account's password (a
   * link alone never attaches an address to an account: see docs/security.md). The new address becomes
   * `email` and is verified, every credential of the user ends, and the previous address is told.
   *
   * Throws {@link InvalidTokenError} (tampered, expired, used, replaced by a newer request, cancelled),
   * {@link PasswordRequiredError} (password missing or wrong; counted like a failed login),
   * {@link TooManyAttemptsError}, or {@link UserExistsError} when the address was taken meanwhile.
   */
  async confirmEmailChange(encodedToken: string, password: string): Promise<U> {
    return emailChange.confirmEmailChange(
      emailChange.emailChangeContext(this.#context),
      emailFingerprint,
      encodedToken,
      password,
      () => new PasswordRequiredError(),
    )
  }

  /**
   * Cancels a pending email change with the token mailed to the current address, and ends every
   * credential of the user (the owner did not ask for the change, so a session is presumed stolen).
   * Throws {@link InvalidTokenError}; the link works once.
   */
  async cancelEmailChange(encodedToken: string): Promise<U> {
    return emailChange.cancelEmailChange(
      emailChange.emailChangeContext(this.#context),
      emailFingerprint,
      encodedToken,
    )
  }

  /**
   * Deletes a user with their role links and sessions; returns the deleted user. Throws {@link NotFoundError};
   * {@link SelfLockoutError} / {@link LastAdminError} for the actor's own or the last admin account.
   * Their session rows are deleted through the `sessionRepository` too, whatever the user repository does,
   * so no session outlives its user.
   */
  async deleteUser(id: Id, options: AdminActionOptions = {}): Promise<U> {
    return users.deleteUser(this.#context, id, options)
  }

  // ---------------------------------------------------------------------------------------------------
  // Authentication

  /**
   * Authenticates a user by identifier and password. Returns `null` on any credential failure, after the
   * same work for an unknown identifier as for a wrong password (a dummy hash verification). A hash made
   * with an outdated scheme or parameters is replaced (verify-and-update).
   *
   * Order: `preLoginHook` (returning `false` cancels: `null`), the throttle (see
   * {@link LoginThrottleOptions}), lookup, verification, hash upgrade, then the account checks, which throw
   * only after a correct password so they reveal nothing to a guesser: {@link InactiveUserError},
   * {@link NotVerifiedError} (when verification is required). Last, `postLoginHook`.
   *
   * The throttle is keyed by the identifier as typed (canonicalised), known or not: after too many
   * consecutive failures it throws {@link TooManyAttemptsError} before any lookup or hash work, and that
   * attempt is not counted. Only a wrong password counts as a failure, and a correct one clears the count;
   * attempts in flight are held apart, so parallel guesses cannot slip past the limit together, and
   * parallel right passwords are never refused for it.
   */
  async authenticate(data: AuthenticationData, request?: Req): Promise<U | null> {
    return authenticate(this.#context, data, request)
  }

  /**
   * Signs a token for a user and an audience, as litestar-users' `generate_token`. The audiences the library
   * uses are in `tokenPurposes`; any other string makes a token of its own purpose.
   */
  generateToken(userId: Id, aud: string, claims?: Record<string, unknown>, lifetimeSeconds?: number): string {
    return signUserToken(this, userId, aud, claims, lifetimeSeconds)
  }

  /** Issues an access token for the JWT backends, carrying the user's credential version. */
  generateAccessToken(user: U): string {
    return this.generateToken(user.id, tokenPurposes.access.audience, { ver: user.authVersion })
  }

  // ---------------------------------------------------------------------------------------------------
  // Verification

  /** Starts verification: a token bound to the user's current email, handed to `sendVerificationToken`. */
  async initiateVerification(user: U): Promise<void> {
    await verification.initiateVerification(this.#context, user)
  }

  /**
   * Asks for a new verification mail by email address. Throws {@link ValidationError} for a malformed
   * address (a check of the text alone). Silent for unknown, already verified or inactive addresses, so it
   * reveals nothing: it resolves at once, before the address is even looked up, and the
   * lookup and the mail happen in the background ({@link settled} waits for them), so a known address
   * cannot answer slower than an unknown one.
   */
  async requestVerification(email: string): Promise<void> {
    await verification.requestVerification(this.#context, email)
  }

  /**
   * Verifies a user with a verification token and the account's password, and runs
   * `postVerificationHook`. Throws {@link AlreadyVerifiedError} (an `ERR_INVALID_TOKEN` whose message
   * says so) for a good link whose address is verified already; {@link InvalidTokenError} when the token
   * is tampered, expired, of another purpose, or issued for an email the user no longer has;
   * {@link PasswordRequiredError} when `options.password` is missing or wrong (a wrong one counts as a
   * failed login, and past the limit {@link TooManyAttemptsError} comes first). A link alone never
   * verifies: the person opening it must not make usable a password they did not choose. Whoever does not
   * know the password completes a password reset instead, which verifies the address too.
   *
   * @example
   * ```ts
   * const user = await service.verify(token, request, { password: 'the password chosen at registration' })
   * ```
   */
  async verify(encodedToken: string, request?: Req, options: { password?: string } = {}): Promise<U> {
    return verification.verify(this.#context, encodedToken, request, options.password)
  }

  // ---------------------------------------------------------------------------------------------------
  // Password reset

  /**
   * Starts a password reset for an email address: a single-use token bound to the current password hash,
   * the address and the credential version, handed to `sendPasswordResetToken`. Throws
   * {@link ValidationError} for a malformed address (a check of the text alone). Silent for unknown or
   * inactive addresses: it resolves at once, before the address is even looked up, and the lookup and
   * the mail happen in the background ({@link settled} waits for them), so a known address cannot answer
   * slower than an unknown one.
   */
  async initiatePasswordReset(email: string): Promise<void> {
    await passwordReset.initiatePasswordReset(this.#context, email)
  }

  /**
   * Sets a new password with a reset token. The token works once: it is bound to a fingerprint of the
   * password hash, which the reset itself changes. Every session and token of the user ends. Completing a
   * reset proves ownership of the mailbox, so the user becomes verified, and it clears the login throttle
   * of the user's email and identifier: a completed reset unlocks the account (see "Login throttling" in docs/security.md).
   * Throws {@link InvalidTokenError} or {@link PasswordPolicyError}.
   */
  async resetPassword(encodedToken: string, password: string): Promise<U> {
    return passwordReset.resetPassword(this.#context, encodedToken, password)
  }

  /**
   * Ends every session and access token of a user at once (their credential version moves). Used by
   * logout-everywhere, and by password changes, resets and deactivation.
   */
  async revokeCredentials(id: Id): Promise<U> {
    return users.revokeCredentials(this.#context, id)
  }

  /** Checks a password under the login throttle (a fresh proof); throws `WrongPasswordError` if wrong. */
  async proveCurrentPassword(user: U, password: unknown, via = 'step_up'): Promise<void> {
    await provePassword(this.#context, user, password, () => new WrongPasswordError(), via)
  }

  /**
   * Deletes what has expired and is ignored anyway: sessions past their absolute end, deny-list entries of
   * expired access tokens, mail-cap counters whose window has passed, and login-failure counts whose
   * window and any delay they imposed have run out. Only keeps the tables small; nothing changes for a
   * user. Stores the service was not given are skipped. The Fastify plugin calls it every few minutes;
   * an application without the plugin schedules it itself.
   *
   * @example
   * ```ts
   * setInterval(() => void service.purgeExpired().catch((err) => log.warn({ err }, 'purge failed')), 600_000).unref()
   * ```
   */
  async purgeExpired(): Promise<PurgeResult> {
    return purgeExpired(this.#context)
  }

  // ---------------------------------------------------------------------------------------------------
  // Roles

  /** The role with this id; throws {@link NotFoundError}. */
  async getRole(id: Id): Promise<R> {
    return roles.getRole(this.#context, id)
  }

  /** The role with this name (case-insensitive), or `null`. */
  async getRoleByName(name: string): Promise<R | null> {
    return roles.getRoleByName(this.#context, name)
  }

  /** Every role, by name. */
  async listRoles(): Promise<R[]> {
    return roles.roleRepository(this.#context).list()
  }

  /** Adds a role; a taken name (case-insensitive) throws {@link RoleExistsError}. */
  async addRole(data: { name: string; description?: string | null }): Promise<R> {
    return roles.addRole(this.#context, data)
  }

  /** Updates a role; throws {@link NotFoundError} or {@link RoleExistsError}. */
  async updateRole(
    id: Id,
    data: { name?: string; description?: string | null },
    options: AdminActionOptions = {},
  ): Promise<R> {
    return roles.updateRole(this.#context, id, data, options)
  }

  /** Deletes a role and unassigns it from every user; returns it. Throws {@link NotFoundError}. */
  async deleteRole(id: Id, options: AdminActionOptions = {}): Promise<R> {
    return roles.deleteRole(this.#context, id, options)
  }

  /** Gives a user a role; returns the user with their roles. Already assigned throws {@link RoleAlreadyAssignedError}. */
  async assignRole(userId: Id, roleId: Id): Promise<U> {
    return roles.assignRole(this.#context, userId, roleId)
  }

  /** Takes a role from a user; returns the user with their roles. Not assigned throws {@link RoleNotAssignedError}. */
  async revokeRole(userId: Id, roleId: Id, options: AdminActionOptions = {}): Promise<U> {
    return roles.revokeRole(this.#context, userId, roleId, options)
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

  /** Parses an id of the repository's id type, or returns `null` when it cannot be one. */
  parseId(id: unknown): Id | null {
    return parseId(this.userRepository.idType, id)
  }
}
