/**
 * `BaseUserService`: the user-management core, the TypeScript counterpart of litestar-users'
 * `BaseUserService`. Every seed method exists here in camelCase with the same meaning; subclass it to
 * override the hooks and the senders, exactly as with the seed.
 *
 * It imports no web framework and no database driver: it talks to repositories (ports), a password
 * manager and a token codec, and takes the framework's request object as an opaque value.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Mailer } from '../mail/mailer.js'
import { composeUserMail, type MailLinkOptions, type UserMailKind } from '../mail/messages.js'
import { PasswordManager, type PasswordManagerOptions } from '../password/password-manager.js'
import { PasswordPolicy, type PasswordPolicyOptions, userContextWords } from '../password/password-policy.js'
import { TokenCodec, type TokenPurpose, tokenPurposes } from '../tokens/token-codec.js'
import { type AdminActionOptions, AdminGuard, type ExclusiveLock } from './admin-guard.js'
import { type Clock, systemClock } from '../kernel/clock.js'
import * as emailChange from './email-change.js'
import {
  AlreadyVerifiedError,
  ConflictError,
  InactiveUserError,
  InvalidTokenError,
  NotFoundError,
  NotVerifiedError,
  PasswordRequiredError,
  RoleAlreadyAssignedError,
  RoleExistsError,
  RoleNotAssignedError,
  TooManyAttemptsError,
  UserExistsError,
  ValidationError,
  WrongPasswordError,
} from '../kernel/errors.js'
import {
  canonicalEmail,
  canonicalIdentifier,
  canonicalRoleName,
  canonicalUsername,
  foldIdentifier,
} from './identifiers.js'
import { type Logger, silentLogger } from '../kernel/logger.js'
import { MailCap, type MailCapOptions, type MailCapStore } from './mail-cap.js'
import type {
  LoginAttemptStore,
  LoginFailures,
  NewUserRecord,
  RoleRepository,
  SessionRepository,
  UserListQuery,
  UserPage,
  UserRecordPatch,
  UserRepository,
} from './repositories.js'
import { checkStorableText } from './storable-text.js'
import type { BaseUser, Id, NewUser, Role, UserFieldSchema, UserPatch } from './user.js'

/** Token lifetimes, in seconds. */
export interface TokenLifetimes {
  /** Email verification tokens. Default: `86400` (24 h, NIST's ceiling for emailed codes). */
  verification?: number
  /** Password reset tokens. Default: `3600` (1 h). */
  passwordReset?: number
  /** Access tokens of the JWT backends. Default: `900` (15 min). */
  access?: number
}

/**
 * Per-identifier login throttling (security.md items 21-23): after `freeAttempts` consecutive failed
 * password checks for one login identifier, each further attempt must wait `2^(failures - freeAttempts)`
 * seconds after the last failure (1 s, 2 s, 4 s...), capped at `maxDelaySeconds`. An attempt refused for
 * coming too early costs no hash and is not counted; a success clears the count. There is never a
 * permanent lock.
 *
 * @example
 * ```ts
 * // Stricter than the defaults: 3 free attempts, then up to an hour between guesses.
 * new BaseUserService({ ...repos, secret, loginThrottle: { freeAttempts: 3, maxDelaySeconds: 3600 } })
 * ```
 */
export interface LoginThrottleOptions {
  /** Consecutive failures allowed before attempts are delayed; from 1 to 100. Default: `5`. */
  freeAttempts?: number
  /** The longest delay between two attempts, in seconds; from 1 to 86400. Default: `900` (15 min). */
  maxDelaySeconds?: number
  /**
   * Failures are forgotten once the last one is this many seconds old; from `maxDelaySeconds` to 86400, so
   * a delay never outlives its count. Default: `900`, or `maxDelaySeconds` when that is longer.
   */
  windowSeconds?: number
}

/** Options of {@link BaseUserService}. */
export interface UserServiceOptions<U extends BaseUser = BaseUser, R extends Role = Role> {
  /**
   * Signs every token. At least 32 bytes; a list rotates secrets (the first signs, all verify).
   * Misuse throws `TypeError` at construction.
   */
  secret: string | readonly string[]
  /** The column users log in with. Default: `'email'`; `'username'` or any unique column works. */
  userAuthIdentifier?: string
  /** Where users live. */
  userRepository: UserRepository<U>
  /** Where roles live. Required by the role methods and by `defaultRoles`. */
  roleRepository?: RoleRepository<R>
  /** Where sessions live; when given, ending a user's credentials also deletes their session rows at once. */
  sessionRepository?: SessionRepository
  /**
   * Where failed password checks are counted (`createKyselyRepositories(db).loginAttemptStore`). Without
   * it, login throttling is off: nothing slows down password guessing. Default: none.
   */
  loginAttemptStore?: LoginAttemptStore
  /**
   * Login throttling settings, or `false` to turn it off. Applies only with a `loginAttemptStore`.
   * Default: `{ freeAttempts: 5, maxDelaySeconds: 900, windowSeconds: 900 }`.
   */
  loginThrottle?: LoginThrottleOptions | false
  /**
   * Password hash schemes. The first hashes; the others are verified and upgraded on the next login.
   * Default: `['argon2id']` (m=19456 KiB, t=2, p=1). Also: `'scrypt'`, `'bcrypt'` (for imported hashes).
   */
  hashSchemes?: PasswordManagerOptions['schemes']
  /** Tuning of the hashers and of the queue in front of them. */
  passwordHashing?: Omit<PasswordManagerOptions, 'schemes'>
  /**
   * The password policy: length in code points (default 8 to 128, never below 8), the common-password
   * list (on), context words (the user's email local part and username, `contextWords`, and `mail.appName`)
   * and the optional breached-password check (off). See {@link PasswordPolicyOptions}.
   */
  passwordPolicy?: PasswordPolicyOptions
  /** Whether a new user must verify their email before logging in. Default: `true`. */
  requireVerificationOnRegistration?: boolean
  /** Token lifetimes in seconds. */
  tokenLifetimes?: TokenLifetimes
  /** The `iss` claim of every token. Default: `'fastify-users'`. */
  issuer?: string
  /** Names of roles every new registered user receives. Requires `roleRepository`. Default: none. */
  defaultRoles?: readonly string[]
  /** Sends the mails of the default senders. Without it, the senders log a warning and send nothing. */
  mailer?: Mailer
  /**
   * Names of the roles that make an administrator: the last active holder of one cannot be deleted,
   * deactivated or lose it, and no admin can do that to themselves (`actorId`). Default: `['admin']`.
   */
  adminRoles?: readonly string[]
  /**
   * The lock under which admin removals are checked and applied. Default: one per process; pass the
   * database's (`createKyselyRepositories(db).adminLock`) when several instances share a database.
   */
  adminLock?: ExclusiveLock
  /**
   * Where mails are counted for the cap on mails to one address (`createKyselyRepositories(db).mailCapStore`).
   * Without it the cap is off.
   */
  mailCapStore?: MailCapStore
  /**
   * At most `max` mails of each kind to one address per `windowSeconds`; more are silently not sent (the
   * caller's answer does not change) and logged as `mail_capped`. `false` turns it off.
   * Default: `{ max: 5, windowSeconds: 3600 }` when a `mailCapStore` is given.
   */
  mailCap?: MailCapOptions | false
  /** Where links in mails point; `baseUrl` is required when `mailer` is given. */
  mail?: MailLinkOptions
  /** Injected time. Default: the system clock. */
  clock?: Clock
  /** A pino-compatible logger for security events. Default: silent. */
  logger?: Logger
}

/** Options of `addUser`, as in the seed. */
export interface AddUserOptions {
  /** Set `isVerified`. Default: `false`. */
  verify?: boolean
  /** Set `isActive`. Default: `true`. */
  activate?: boolean
}

/** Data accepted by `authenticate`: the identifier field (named by `userAuthIdentifier`) and `password`. */
export interface AuthenticationData {
  password: string
  [identifier: string]: unknown
}

const BUILT_IN_WRITABLE = new Set([
  'email',
  'username',
  'password',
  'passwordHash',
  'isActive',
  'isVerified',
  'id',
])

/**
 * The user service. Subclass it to override hooks and senders; every method of the litestar-users seed
 * exists here in camelCase.
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
export class BaseUserService<U extends BaseUser = BaseUser, R extends Role = Role, Req = unknown> {
  /** The column users log in with. */
  readonly userAuthIdentifier: string
  readonly userRepository: UserRepository<U>
  readonly roleRepository: RoleRepository<R> | undefined
  readonly sessionRepository: SessionRepository | undefined
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
  readonly #defaultRoles: readonly string[]
  /** Keeps at least one active admin, and admins from locking themselves out. */
  readonly adminGuard: AdminGuard<U>
  /** The cap on mails to one address, or `null` when off. */
  readonly mailCap: MailCap | null
  readonly #mailer: Mailer | undefined
  readonly #mail: MailLinkOptions | undefined
  readonly #deliveries = new Set<Promise<void>>()
  #warnedNoMailer = false

  constructor(options: UserServiceOptions<U, R>) {
    if (!options || typeof options !== 'object') throw new TypeError('fastify-users: options are required')
    if (!options.userRepository) {
      throw new TypeError(
        'fastify-users: `userRepository` is required (for example createKyselyRepositories(db).userRepository)',
      )
    }
    this.userAuthIdentifier = options.userAuthIdentifier ?? 'email'
    if (typeof this.userAuthIdentifier !== 'string' || this.userAuthIdentifier.length === 0) {
      throw new TypeError(
        "fastify-users: `userAuthIdentifier` must be a column name such as 'email' or 'username'",
      )
    }
    this.userRepository = options.userRepository
    this.roleRepository = options.roleRepository
    this.sessionRepository = options.sessionRepository
    const throttle = resolveLoginThrottle(options.loginThrottle)
    // Without a store there is nowhere to count, so throttling is off (documented on the option).
    this.loginThrottle = throttle && options.loginAttemptStore ? throttle : null
    this.loginAttemptStore = this.loginThrottle ? options.loginAttemptStore : undefined
    this.requireVerificationOnRegistration = options.requireVerificationOnRegistration ?? true
    this.clock = options.clock ?? systemClock
    this.logger = options.logger ?? silentLogger
    this.tokens = new TokenCodec({ secret: options.secret, issuer: options.issuer, clock: this.clock })
    this.passwords = new PasswordManager({
      ...options.passwordHashing,
      schemes: options.hashSchemes ?? ['argon2id'],
    })
    this.passwordPolicy = new PasswordPolicy(
      {
        ...options.passwordPolicy,
        contextWords: [
          ...(options.passwordPolicy?.contextWords ?? []),
          ...(options.mail?.appName ? [options.mail.appName] : []),
        ],
      },
      this.logger,
    )
    this.tokenLifetimes = {
      verification: checkLifetime('verification', options.tokenLifetimes?.verification ?? 86_400, 86_400),
      passwordReset: checkLifetime('passwordReset', options.tokenLifetimes?.passwordReset ?? 3_600, 86_400),
      access: checkLifetime('access', options.tokenLifetimes?.access ?? 900, 86_400),
    }
    this.#defaultRoles = (options.defaultRoles ?? []).map((name) => canonicalRoleName(name))
    if (this.#defaultRoles.length > 0 && !this.roleRepository) {
      throw new TypeError(
        'fastify-users: `defaultRoles` needs a `roleRepository` to assign them; pass one or drop defaultRoles',
      )
    }
    if (options.mailer && !options.mail?.baseUrl) {
      throw new TypeError(
        "fastify-users: a `mailer` needs `mail.baseUrl` (for example 'https://app.example.com') to build links",
      )
    }
    if (options.mail?.baseUrl) {
      let url: URL
      try {
        url = new URL(options.mail.baseUrl)
      } catch {
        throw new TypeError('fastify-users: `mail.baseUrl` must be an absolute http(s) URL')
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new TypeError('fastify-users: `mail.baseUrl` must be an absolute http(s) URL')
      }
    }
    this.#mailer = options.mailer
    this.#mail = options.mail
    this.mailCap =
      options.mailCap === false || !options.mailCapStore
        ? null
        : new MailCap(options.mailCapStore, options.mailCap ?? {}, this.clock, this.logger)
    this.adminGuard = new AdminGuard({
      users: this.userRepository,
      adminRoles: options.adminRoles,
      lock: options.adminLock,
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Users

  /**
   * Creates a user programmatically (no hooks, no mail). `password` is policy-checked and hashed;
   * `passwordHash` is stored as given (imports). A duplicate identifier, compared case-insensitively and
   * decided by the database's unique index, throws {@link UserExistsError}.
   */
  async addUser(user: NewUser<U>, options: AddUserOptions = {}): Promise<U> {
    const record = this.#checkFields(user as Record<string, unknown>, 'create')
    const { password, passwordHash } = user as { password?: unknown; passwordHash?: unknown }
    if (typeof password === 'string') {
      record.passwordHash = await this.#hashNewPassword(password, record)
    } else if (typeof passwordHash === 'string' && passwordHash.startsWith('$')) {
      record.passwordHash = passwordHash
    } else {
      throw new ValidationError('password', 'password is required')
    }
    record.isVerified = options.verify ?? false
    record.isActive = options.activate ?? true
    try {
      return await this.userRepository.insert(record as NewUserRecord)
    } catch (err) {
      throw this.#translateConflict(err)
    }
  }

  /**
   * Registers a user: `preRegistrationHook`, password policy and hash, `addUser`, the default roles,
   * `initiateVerification` when verification is required, `postRegistrationHook`.
   *
   * A taken identifier throws {@link UserExistsError}; when verification is required, the owner of the
   * taken address is first sent a notice (with a password reset link) instead of a token, so the HTTP
   * layer can answer a new and a taken address alike (security.md item 14).
   */
  async register(data: Record<string, unknown>, request?: Req): Promise<U> {
    await this.preRegistrationHook(data, request)
    const { password } = data
    if (typeof password !== 'string') throw new ValidationError('password', 'password is required')
    const record = this.#checkFields(data, 'register')
    const defaultRoles = await this.#defaultRoleRecords()
    // Hash before touching the database: a taken address costs the same work as a new one, and no
    // connection or transaction is held while the thread pool hashes.
    record.passwordHash = await this.#hashNewPassword(password, record)
    record.isVerified = !this.requireVerificationOnRegistration
    record.isActive = true
    let user: U
    try {
      user = await this.userRepository.insert(record as NewUserRecord)
    } catch (err) {
      const translated = this.#translateConflict(err)
      // Only a taken address is answered with a notice to its owner (and voids an unproven password):
      // the mailbox is what both claimants assert. A taken username or other unique column says nothing
      // about the mailbox; it is refused plainly and the account that holds it is left alone.
      if (
        translated instanceof UserExistsError &&
        translated.field === 'email' &&
        this.requireVerificationOnRegistration
      ) {
        await this.#noticeExistingAccount(record)
      }
      throw translated
    }
    if (defaultRoles.length > 0) user = await this.#assignDefaultRoles(user, defaultRoles)
    this.logger.info({ event: 'user_created', userId: user.id }, 'user registered')
    if (this.requireVerificationOnRegistration) await this.initiateVerification(user)
    await this.postRegistrationHook(user, request)
    return user
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
    const canonical: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(filters)) {
      if (
        typeof value === 'string' &&
        (key === 'email' || key === 'username' || key === this.userAuthIdentifier)
      ) {
        canonical[key] = foldIdentifier(checkStorableText(key, value))
      } else if (key === 'id') {
        const id = this.parseId(value as Id)
        if (id === null) return null
        canonical[key] = id
      } else {
        canonical[key] = checkStorableText(key, value)
      }
    }
    return this.userRepository.findOne(canonical)
  }

  /** One page of users with the total count and a cursor for the next page. */
  async listUsers(query: Partial<UserListQuery> = {}): Promise<UserPage<U>> {
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
    return this.userRepository.list({ ...query, filters, limit, offset })
  }

  /** The seed's `list_and_count_users`: `[users, total]`. See {@link listUsers} for the cursor. */
  async listAndCountUsers(query: Partial<UserListQuery> = {}): Promise<[U[], number]> {
    const page = await this.listUsers(query)
    return [page.items, page.total]
  }

  /**
   * Updates a user. A `password` is policy-checked and hashed, and ends every credential of the user; an
   * email change resets `isVerified` (unless the patch sets it) and tells the old address; deactivation
   * ends every credential. Unknown fields throw {@link ValidationError}. An empty patch returns the user
   * unchanged without writing.
   */
  async updateUser(id: Id, patch: UserPatch<U>, options: AdminActionOptions = {}): Promise<U> {
    const current = await this.getUser(id)
    const record = this.#checkFields(patch as Record<string, unknown>, 'update') as UserRecordPatch
    const { password } = patch as { password?: unknown }
    // An empty patch changes nothing and answers the user as they are (as the peers do): no write, so
    // `updatedAt` stays too.
    if (Object.keys(record).length === 0 && password === undefined) return current
    let endCredentials = false
    if (password !== undefined) {
      if (typeof password !== 'string') throw new ValidationError('password', 'password must be a string')
      record.passwordHash = await this.#hashNewPassword(password, { ...current, ...record })
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
      const write = () => this.userRepository.update(current.id, record)
      updated =
        record.isActive === false && current.isActive
          ? await this.adminGuard.run(
              { kind: 'user', userId: current.id, loses: 'everything' },
              options,
              write,
            )
          : await write()
    } catch (err) {
      throw this.#translateConflict(err)
    }
    if (!updated) throw new NotFoundError('user')
    if (endCredentials) await this.#endSessions(updated)
    if (password !== undefined) {
      this.logger.info({ event: 'authn_password_change', userId: updated.id }, 'password changed')
      this.#deliverNotice('password-changed', updated, () => this.sendPasswordChangedNotice(updated))
    }
    if (emailChanged) {
      this.logger.info({ event: 'user_updated', userId: updated.id, change: 'email' }, 'email changed')
      const oldEmail = current.email
      this.#deliverNotice('email-changed', updated, () => this.sendEmailChangedNotice(updated, oldEmail))
      // The rule lives here, not in a route: however the address was set (HTTP, CLI, code), an address
      // nobody proved is unverified and gets a link.
      if (!updated.isVerified) await this.initiateVerification(updated)
    }
    if (record.isActive === false && current.isActive) {
      this.logger.info(
        { event: 'user_updated', userId: updated.id, change: 'deactivated' },
        'user deactivated',
      )
    }
    return updated
  }

  /**
   * Changes the password of a user who proves the current one. A wrong current password throws
   * {@link WrongPasswordError}; the new one passes the policy; every credential of the user ends.
   *
   * A wrong current password counts as a failed login of the user's identifier, and the same throttle
   * applies ({@link TooManyAttemptsError}, before any hash work), so a stolen session cannot be used to
   * guess the password faster than the login route allows (security.md item 26).
   *
   * Changes are serialised by a compare-and-set on the password hash that was checked: of parallel
   * changes proving the same current password exactly one is applied, and the others throw
   * {@link WrongPasswordError}, as they would a moment later, since the password they proved is no longer
   * the current one (they are not counted as failures).
   */
  async changePassword(id: Id, currentPassword: string, newPassword: string): Promise<U> {
    const user = await this.getUser(id)
    await this.#provePassword(user, currentPassword, () => new WrongPasswordError(), 'password_change')
    if (typeof newPassword !== 'string') throw new ValidationError('password', 'password must be a string')
    const passwordHash = await this.#hashNewPassword(newPassword, user)
    const updated = await this.userRepository.update(
      user.id,
      { passwordHash, incrementAuthVersion: true },
      { expect: { passwordHash: user.passwordHash, authVersion: user.authVersion } },
    )
    if (!updated) {
      this.logger.warn(
        { event: 'authn_password_change_fail', userId: user.id, reason: 'changed_concurrently' },
        'password changed by another request meanwhile',
      )
      throw new WrongPasswordError()
    }
    await this.#endSessions(updated)
    this.logger.info({ event: 'authn_password_change', userId: updated.id }, 'password changed')
    this.#deliverNotice('password-changed', updated, () => this.sendPasswordChangedNotice(updated))
    return updated
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
    let user = await this.getUser(id)
    // A malformed address is refused before the password check: it costs no hash and counts no failure.
    canonicalEmail(newEmail)
    await this.#provePassword(user, currentPassword, () => new WrongPasswordError(), 'email_change')
    if (otherChanges && Object.keys(otherChanges).length > 0) {
      if ('email' in otherChanges || 'password' in otherChanges) {
        throw new ValidationError('email', 'pass the new address as `newEmail`, and change passwords apart')
      }
      user = await this.updateUser(user.id, otherChanges)
    }
    return emailChange.requestEmailChange(this.#emailChangeContext(), emailFingerprint, user, newEmail)
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
      this.#emailChangeContext(),
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
    return emailChange.cancelEmailChange(this.#emailChangeContext(), emailFingerprint, encodedToken)
  }

  /**
   * Deletes a user with their role links and sessions; returns the deleted user. Throws {@link NotFoundError};
   * {@link SelfLockoutError} / {@link LastAdminError} for the actor's own or the last admin account.
   */
  async deleteUser(id: Id, options: AdminActionOptions = {}): Promise<U> {
    const parsed = this.parseId(id)
    const deleted =
      parsed === null
        ? null
        : await this.adminGuard.run({ kind: 'user', userId: parsed, loses: 'everything' }, options, () =>
            this.userRepository.delete(parsed),
          )
    if (!deleted) throw new NotFoundError('user')
    this.logger.info({ event: 'user_deleted', userId: deleted.id }, 'user deleted')
    return deleted
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
    if ((await this.preLoginHook(data, request)) === false) return null
    // Keyed by what was typed, not by the account found: an unknown identifier is throttled exactly like a
    // known one, and the refusal comes before the lookup, so neither its answer nor its timing tells them
    // apart (security.md items 20 and 29).
    const key = this.#throttleKey(data[this.userAuthIdentifier])
    const attempt = key === null ? null : await this.#beginAttempt(key, null)
    const password = typeof data.password === 'string' ? data.password : ''
    let user: U | null = null
    let newHash: string | undefined
    try {
      try {
        const identifier = canonicalIdentifier(this.userAuthIdentifier, data[this.userAuthIdentifier])
        user = await this.userRepository.findOne({ [this.userAuthIdentifier]: identifier })
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
      }
      const checked = await this.passwords.verify(password, user?.passwordHash ?? null)
      if (!user || !checked.valid) {
        const failures = await attempt?.fail()
        this.logger.warn({ event: 'authn_login_fail', userId: user?.id ?? null, failures }, 'login failed')
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
        (await this.userRepository.update(
          user.id,
          { passwordHash: newHash },
          { expect: { passwordHash: user.passwordHash } },
        )) ?? user
    }
    if (!user.isActive) {
      this.logger.warn({ event: 'authn_login_fail', userId: user.id, reason: 'inactive' }, 'login refused')
      throw new InactiveUserError()
    }
    if (this.requireVerificationOnRegistration && !user.isVerified) {
      this.logger.warn(
        { event: 'authn_login_fail', userId: user.id, reason: 'not_verified' },
        'login refused',
      )
      throw new NotVerifiedError()
    }
    await this.postLoginHook(user, request)
    this.logger.info({ event: 'authn_login_success', userId: user.id }, 'login succeeded')
    return user
  }

  /**
   * Signs a token for a user and an audience, as the seed's `generate_token`. The audiences the library
   * uses are in `tokenPurposes`; any other string makes a token of its own purpose.
   */
  generateToken(userId: Id, aud: string, claims?: Record<string, unknown>, lifetimeSeconds?: number): string {
    const purpose = purposeFor(aud)
    const lifetime =
      lifetimeSeconds ??
      (purpose === tokenPurposes.verify
        ? this.tokenLifetimes.verification
        : purpose === tokenPurposes.reset
          ? this.tokenLifetimes.passwordReset
          : this.tokenLifetimes.access)
    return this.tokens.sign(purpose, { sub: String(userId), lifetimeSeconds: lifetime, claims })
  }

  /** Issues an access token for the JWT backends, carrying the user's credential version. */
  generateAccessToken(user: U): string {
    return this.generateToken(user.id, tokenPurposes.access.audience, { ver: user.authVersion })
  }

  // ---------------------------------------------------------------------------------------------------
  // Verification

  /** Starts verification: a token bound to the user's current email, handed to `sendVerificationToken`. */
  async initiateVerification(user: U): Promise<void> {
    const token = this.generateToken(user.id, tokenPurposes.verify.audience, {
      ef: emailFingerprint(user.email),
      ver: user.authVersion,
    })
    this.#deliverNotice('verification', user, () => this.sendVerificationToken(user, token))
  }

  /**
   * Asks for a new verification mail by email address. Throws {@link ValidationError} for a malformed
   * address (a check of the text alone). Silent for unknown, already verified or inactive addresses, so it
   * reveals nothing: it resolves at once, before the address is even looked up, and the
   * lookup and the mail happen in the background ({@link settled} waits for them), so a known address
   * cannot answer slower than an unknown one.
   */
  async requestVerification(email: string): Promise<void> {
    // A malformed address is refused (ValidationError) as at registration: the check looks at the text
    // only, the same for every input, so it says nothing about accounts.
    canonicalEmail(email)
    this.#inBackground('verification', async () => {
      const user = await this.#findByEmail(email)
      if (user?.isActive && !user.isVerified) await this.initiateVerification(user)
    })
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
    const claims = this.tokens.verify(encodedToken, tokenPurposes.verify)
    const user = await this.#userFromToken(claims.sub)
    if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
    if (typeof claims.ef !== 'string' || claims.ef !== emailFingerprint(user.email))
      throw new InvalidTokenError('email changed')
    // A second click on a good link: say so (only the link's holder can get here).
    if (user.isVerified) throw new AlreadyVerifiedError()
    // Pre-account hijacking: whoever registered may not own the mailbox, so the link alone must not make
    // their password usable. Completing needs that password; the mailbox owner who did not register
    // resets it instead (which verifies too).
    await this.#provePassword(user, options.password, () => new PasswordRequiredError(), 'verification')
    // Compare-and-set: of parallel uses of one link exactly one verifies (and runs the hook); the others
    // fail like a late use.
    const verified = await this.userRepository.update(
      user.id,
      { isVerified: true },
      { expect: { isVerified: false, authVersion: user.authVersion, email: user.email } },
    )
    if (!verified) throw new InvalidTokenError('already used')
    this.logger.info({ event: 'user_updated', userId: verified.id, change: 'verified' }, 'email verified')
    await this.postVerificationHook(verified, request)
    return verified
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
    // Refused as at registration when malformed: a check of the text alone, which reveals no account.
    canonicalEmail(email)
    this.#inBackground('password-reset', async () => {
      const user = await this.#findByEmail(email)
      if (!user?.isActive) return
      const token = this.#resetToken(user)
      this.logger.info({ event: 'authn_token_created', userId: user.id, purpose: 'reset' }, 'reset requested')
      this.#deliverNotice('password-reset', user, () => this.sendPasswordResetToken(user, token))
    })
  }

  /**
   * Sets a new password with a reset token. The token works once: it is bound to a fingerprint of the
   * password hash, which the reset itself changes. Every session and token of the user ends. Completing a
   * reset proves ownership of the mailbox, so the user becomes verified, and it clears the login throttle
   * of the user's email and identifier: a completed reset unlocks the account (security.md item 23).
   * Throws {@link InvalidTokenError} or {@link PasswordPolicyError}.
   */
  async resetPassword(encodedToken: string, password: string): Promise<U> {
    const claims = this.tokens.verify(encodedToken, tokenPurposes.reset)
    const user = await this.#userFromToken(claims.sub)
    if (!sameFingerprint(claims.fp, passwordFingerprint(user.passwordHash))) {
      throw new InvalidTokenError('already used or password changed')
    }
    if (!sameFingerprint(claims.ef, emailFingerprint(user.email))) {
      throw new InvalidTokenError('email changed since')
    }
    if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
    if (!user.isActive) throw new InvalidTokenError('inactive user')
    const passwordHash = await this.#hashNewPassword(password, user)
    // Compare-and-set on the state the token was checked against: of parallel uses of one token exactly
    // one finds it unchanged; the others fail like a late use. The address is still the one the token was
    // mailed to (checked above, and again by the update), so marking it verified is proven.
    const updated = await this.userRepository.update(
      user.id,
      { passwordHash, isVerified: true, incrementAuthVersion: true },
      {
        expect: {
          passwordHash: user.passwordHash,
          authVersion: user.authVersion,
          email: user.email,
          isActive: true,
        },
      },
    )
    if (!updated) throw new InvalidTokenError('already used or password changed')
    await this.#endSessions(updated)
    await this.#clearLoginFailures(updated)
    this.logger.info({ event: 'authn_password_change', userId: updated.id, via: 'reset' }, 'password reset')
    this.#deliverNotice('password-changed', updated, () => this.sendPasswordChangedNotice(updated))
    return updated
  }

  /**
   * Ends every session and access token of a user at once (their credential version moves). Used by
   * logout-everywhere, and by password changes, resets and deactivation.
   */
  async revokeCredentials(id: Id): Promise<U> {
    const user = await this.getUser(id)
    const updated = await this.userRepository.update(user.id, { incrementAuthVersion: true })
    if (!updated) throw new NotFoundError('user')
    await this.#endSessions(updated)
    this.logger.info(
      { event: 'authn_token_revoked', userId: updated.id, scope: 'all' },
      'credentials revoked',
    )
    return updated
  }

  // ---------------------------------------------------------------------------------------------------
  // Roles

  /** The role with this id; throws {@link NotFoundError}. */
  async getRole(id: Id): Promise<R> {
    const roles = this.#roles()
    const parsed = this.parseId(id)
    const role = parsed === null ? null : await roles.findById(parsed)
    if (!role) throw new NotFoundError('role')
    return role
  }

  /** The role with this name (case-insensitive), or `null`. */
  async getRoleByName(name: string): Promise<R | null> {
    const roles = this.#roles()
    let canonical: string
    try {
      canonical = canonicalRoleName(name)
    } catch {
      return null
    }
    return roles.findByName(canonical)
  }

  /** Every role, by name. */
  async listRoles(): Promise<R[]> {
    return this.#roles().list()
  }

  /** Adds a role; a taken name (case-insensitive) throws {@link RoleExistsError}. */
  async addRole(data: { name: string; description?: string | null }): Promise<R> {
    const roles = this.#roles()
    const name = canonicalRoleName(data.name)
    const description = checkDescription(data.description)
    try {
      return await roles.insert({ name, description: description ?? null })
    } catch (err) {
      if (err instanceof ConflictError) throw new RoleExistsError(name)
      throw err
    }
  }

  /** Updates a role; throws {@link NotFoundError} or {@link RoleExistsError}. */
  async updateRole(
    id: Id,
    data: { name?: string; description?: string | null },
    options: AdminActionOptions = {},
  ): Promise<R> {
    const roles = this.#roles()
    const current = await this.getRole(id)
    const patch: { name?: string; description?: string | null } = {}
    if (data.name !== undefined) patch.name = canonicalRoleName(data.name)
    if (data.description !== undefined) patch.description = checkDescription(data.description) ?? null
    try {
      const write = () => roles.update(current.id, patch)
      // Renaming an admin role away takes administration from every holder, like deleting it.
      const renamesAway =
        patch.name !== undefined &&
        !this.adminGuard.isAdminRole(patch.name) &&
        this.adminGuard.isAdminRole(current.name)
      const updated = renamesAway
        ? await this.adminGuard.run({ kind: 'role', roleName: current.name }, options, write)
        : await write()
      if (!updated) throw new NotFoundError('role')
      this.logger.info({ event: 'authz_change', roleId: updated.id }, 'role updated')
      return updated
    } catch (err) {
      if (err instanceof ConflictError) throw new RoleExistsError(patch.name ?? current.name)
      throw err
    }
  }

  /** Deletes a role and unassigns it from every user; returns it. Throws {@link NotFoundError}. */
  async deleteRole(id: Id, options: AdminActionOptions = {}): Promise<R> {
    const roles = this.#roles()
    const parsed = this.parseId(id)
    const role = parsed === null ? null : await roles.findById(parsed)
    const deleted =
      parsed === null || !role
        ? null
        : await this.adminGuard.run({ kind: 'role', roleName: role.name }, options, () =>
            roles.delete(parsed),
          )
    if (!deleted) throw new NotFoundError('role')
    this.logger.info({ event: 'authz_change', roleId: deleted.id, change: 'deleted' }, 'role deleted')
    return deleted
  }

  /** Gives a user a role; returns the user with their roles. Already assigned throws {@link RoleAlreadyAssignedError}. */
  async assignRole(userId: Id, roleId: Id): Promise<U> {
    const roles = this.#roles()
    const user = await this.getUser(userId)
    const role = await this.getRole(roleId)
    if (!(await roles.assign(user.id, role.id))) throw new RoleAlreadyAssignedError(role.name)
    this.logger.info(
      { event: 'authz_change', userId: user.id, role: role.name, change: 'assigned' },
      'role assigned',
    )
    return this.getUser(user.id)
  }

  /** Takes a role from a user; returns the user with their roles. Not assigned throws {@link RoleNotAssignedError}. */
  async revokeRole(userId: Id, roleId: Id, options: AdminActionOptions = {}): Promise<U> {
    const roles = this.#roles()
    const user = await this.getUser(userId)
    const role = await this.getRole(roleId)
    const revoked = await this.adminGuard.run(
      { kind: 'user', userId: user.id, loses: [role.name] },
      options,
      () => roles.revoke(user.id, role.id),
    )
    if (!revoked) throw new RoleNotAssignedError(role.name)
    this.logger.info(
      { event: 'authz_change', userId: user.id, role: role.name, change: 'revoked' },
      'role revoked',
    )
    return this.getUser(user.id)
  }

  // ---------------------------------------------------------------------------------------------------
  // Hooks: override in a subclass. Exceptions reach the caller unchanged.

  /** Runs before authentication; return `false` (or throw) to cancel the login. Default: allow. */
  async preLoginHook(_data: AuthenticationData, _request?: Req): Promise<boolean | undefined> {
    return true
  }

  /** Runs after a successful authentication. Default: nothing. */
  async postLoginHook(_user: U, _request?: Req): Promise<void> {}

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
    await this.#sendMail('verification', user.email, { token })
  }

  /** Sends a password reset token. Default: mails a link built from `mail.baseUrl` through the `mailer`. */
  async sendPasswordResetToken(user: U, token: string): Promise<void> {
    await this.#sendMail('password-reset', user.email, { token })
  }

  /**
   * Tells the owner of an address that someone tried to register with it; `resetToken` lets them set a
   * new password if it was them. Default: mails it.
   */
  async sendExistingAccountNotice(user: U, resetToken: string): Promise<void> {
    await this.#sendMail('existing-account', user.email, { token: resetToken })
  }

  /** Tells a user their password was changed. Default: mails it. */
  async sendPasswordChangedNotice(user: U): Promise<void> {
    await this.#sendMail('password-changed', user.email, {})
  }

  /**
   * Sends the link that confirms a pending email change to the new address. Default: mails a link built
   * from `mail.baseUrl` and `mail.confirmEmailPath` through the `mailer`.
   */
  async sendEmailChangeConfirmation(_user: U, newEmail: string, token: string): Promise<void> {
    await this.#sendMail('email-change-confirm', newEmail, { token })
  }

  /**
   * Tells the current address that a change to `newEmail` was asked for, with a link that cancels it.
   * Default: mails a link built from `mail.baseUrl` and `mail.cancelEmailPath` through the `mailer`.
   */
  async sendEmailChangeRequestedNotice(user: U, newEmail: string, cancelToken: string): Promise<void> {
    await this.#sendMail('email-change-requested', user.email, { token: cancelToken, newEmail })
  }

  /** Tells the old address of a user that their email was changed. Default: mails it. */
  async sendEmailChangedNotice(user: U, oldEmail: string): Promise<void> {
    await this.#sendMail('email-changed', oldEmail, { newEmail: user.email })
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
    while (this.#deliveries.size > 0) await Promise.allSettled([...this.#deliveries])
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

  /** Parses an id of the repository's id type, or returns `null` when it cannot be one. */
  parseId(id: unknown): Id | null {
    if (this.userRepository.idType === 'integer') {
      const n =
        typeof id === 'number'
          ? id
          : typeof id === 'string' && /^[0-9]{1,15}$/.test(id)
            ? Number(id)
            : Number.NaN
      return Number.isSafeInteger(n) && n > 0 ? n : null
    }
    return typeof id === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
      ? id.toLowerCase()
      : null
  }

  /**
   * Checks a user's password under the login throttle, keyed like their logins: a wrong one counts as a
   * failed login and throws `onWrong()`, and past the limit {@link TooManyAttemptsError} comes before any
   * hash work, so no route that asks for the password is a faster oracle than the login. A right one
   * clears the count.
   */
  async #provePassword(user: U, password: unknown, onWrong: () => Error, via: string): Promise<void> {
    // No password at all is no guess: refused without a hash and without counting.
    if (typeof password !== 'string' || password.length === 0) throw onWrong()
    const key = this.#throttleKey((user as Record<string, unknown>)[this.userAuthIdentifier])
    const attempt = key === null ? null : await this.#beginAttempt(key, user.id)
    try {
      const { valid } = await this.passwords.verify(password, user.passwordHash)
      if (!valid) {
        const failures = await attempt?.fail()
        this.logger.warn(
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

  #emailChangeContext(): emailChange.EmailChangeContext<U> {
    return {
      users: this.userRepository,
      tokens: this.tokens,
      logger: this.logger,
      lifetimeSeconds: this.tokenLifetimes.verification,
      userFromToken: (sub) => this.#userFromToken(sub),
      provePassword: (user, password, onWrong, via) => this.#provePassword(user, password, onWrong, via),
      endSessions: (user) => this.#endSessions(user),
      mailChangeRequested: (user, newEmail, confirmToken, cancelToken) => {
        this.#deliverNotice('email-change-confirm', user, () =>
          this.sendEmailChangeConfirmation(user, newEmail, confirmToken),
        )
        this.#deliverNotice('email-change-requested', user, () =>
          this.sendEmailChangeRequestedNotice(user, newEmail, cancelToken),
        )
      },
      mailChanged: (user, oldEmail) =>
        this.#deliverNotice('email-changed', user, () => this.sendEmailChangedNotice(user, oldEmail)),
    }
  }

  async #userFromToken(sub: string): Promise<U> {
    const id = this.parseId(sub)
    const user = id === null ? null : await this.userRepository.findById(id)
    if (!user) throw new InvalidTokenError('user gone')
    return user
  }

  /**
   * A reset token bound to everything that must not have moved when it is used: the password hash (so it
   * works once), the address it is mailed to (so it proves that mailbox, and dies with an email change),
   * and the credential version (so it dies with deactivation, revocation or any credential change).
   */
  #resetToken(user: U): string {
    return this.generateToken(user.id, tokenPurposes.reset.audience, {
      fp: passwordFingerprint(user.passwordHash),
      ef: emailFingerprint(user.email),
      ver: user.authVersion,
    })
  }

  async #noticeExistingAccount(record: Record<string, unknown>): Promise<void> {
    let owner = await this.userRepository.findOne({ email: record.email })
    if (!owner) return
    if (!owner.isVerified) {
      // Pre-account hijacking (security.md item 17): whoever registered this unverified account never
      // proved the mailbox, and now a second person claims it. The unproven password is voided and every
      // link already mailed dies with the credential version; the mailbox owner takes the account through
      // the reset link of the notice, which also verifies it.
      // Compare-and-set on the state read: if the owner verified (or anything else moved) meanwhile, the
      // voiding does not apply to the new state, and the notice goes out with a token of the current one.
      owner =
        (await this.userRepository.update(
          owner.id,
          {
            passwordHash: `!unusable:${randomBytes(16).toString('base64url')}`,
            incrementAuthVersion: true,
          },
          { expect: { isVerified: false, authVersion: owner.authVersion } },
        )) ?? (await this.userRepository.findById(owner.id))
      if (!owner) return
    }
    const token = this.#resetToken(owner)
    this.logger.info(
      { event: 'user_created', outcome: 'duplicate', userId: owner.id },
      'registration with a taken address',
    )
    this.#deliverNotice('existing-account', owner, () => this.sendExistingAccountNotice(owner, token))
  }

  async #hashNewPassword(password: string, user: Partial<U> | Record<string, unknown>): Promise<string> {
    if (typeof password !== 'string') throw new ValidationError('password', 'password must be a string')
    const normalised = password.normalize('NFKC')
    await this.passwordPolicy.validate(normalised, userContextWords(user as Record<string, unknown>))
    await this.validatePassword(normalised, user as Partial<U>)
    return this.passwords.hash(password)
  }

  /**
   * The default roles, looked up before the user is inserted: a missing role is a configuration fault
   * and must fail every registration alike, before anything is stored (a half-made account, or an answer
   * that differs from a taken address's, would be worse).
   */
  async #defaultRoleRecords(): Promise<R[]> {
    if (this.#defaultRoles.length === 0) return []
    const roles = this.#roles()
    const found: R[] = []
    for (const name of this.#defaultRoles) {
      const role = await roles.findByName(name)
      if (!role)
        throw new Error(
          `fastify-users: default role '${name}' does not exist; create it (fastify-users create-role ${name})`,
        )
      found.push(role)
    }
    return found
  }

  async #assignDefaultRoles(user: U, defaultRoles: R[]): Promise<U> {
    const roles = this.#roles()
    for (const role of defaultRoles) await roles.assign(user.id, role.id)
    return this.getUser(user.id)
  }

  /** The throttle key of a login identifier value, or `null` when throttling is off. */
  #throttleKey(identifier: unknown): string | null {
    if (!this.loginThrottle || !this.loginAttemptStore) return null
    // A value that is no string cannot name an account; it still gets a key (the empty one), so that
    // sending one is no way around the throttle.
    return loginAttemptKey(typeof identifier === 'string' ? identifier : '')
  }

  /**
   * Starts a password check for `key`: throws {@link TooManyAttemptsError} while the key must wait (before
   * any hash work, and without counting the attempt); otherwise returns the attempt, which the caller ends
   * with `fail()` (a wrong password: one more failure), `succeed()` (the count is cleared) or, in a
   * `finally`, `abandon()` (no password was checked: nothing is counted).
   *
   * Only failed checks count, and only they raise the delay: attempts in flight are not evidence of
   * guessing. They are counted apart, under their own key (atomically, in the same store, so across
   * instances too), and an attempt goes on to a hash only while the failures plus the attempts in flight
   * stay within the free attempts (one at a time once the delay applies). An attempt beyond that waits
   * for those in flight to end: if they failed, the delay they earned refuses it; if one succeeded, the
   * count is clear and it goes on. So a burst of parallel guesses gets no more hashes than the free
   * attempts, and a burst of right passwords (a double-clicked form, parallel clients) all get in.
   */
  async #beginAttempt(key: string, userId: Id | null): Promise<LoginAttempt | null> {
    const throttle = this.loginThrottle
    const store = this.loginAttemptStore
    if (!throttle || !store) return null
    const windowMs = throttle.windowSeconds * 1000
    const pending = inFlightAttemptKey(key)
    const waitUntil = performance.now() + IN_FLIGHT_WAIT_MS
    for (let round = 0; ; round++) {
      // Refused before anything is counted: hammering a throttled identifier costs no hash and no count.
      this.#refuseWhileDelayed(await store.failures(key, this.clock.now(), windowMs), userId)
      const inFlight = await store.recordFailure(pending, this.clock.now(), IN_FLIGHT_WINDOW_MS)
      let proceed = false
      try {
        // Read after reserving: an attempt that ends meanwhile is then seen either still in flight (in
        // `inFlight`) or as a failure (it records its failure before it gives its reservation back).
        const state = await store.failures(key, this.clock.now(), windowMs)
        this.#refuseWhileDelayed(state, userId)
        const failed = state?.count ?? 0
        proceed = inFlight <= (failed < throttle.freeAttempts ? throttle.freeAttempts - failed : 1)
      } finally {
        if (!proceed) await store.release(pending)
      }
      if (proceed) return this.#attempt(key, pending, windowMs)
      const left = waitUntil - performance.now()
      // Still in flight after the wait: a flood of parallel attempts, capped with the shortest wait.
      if (left <= 0) this.#refuse(userId, 1)
      await sleep(Math.min(left, IN_FLIGHT_POLL_MS * 2 ** Math.min(round, 4)))
    }
  }

  /** Throws {@link TooManyAttemptsError} while the failures in `state` make the identifier wait. */
  #refuseWhileDelayed(state: LoginFailures | null, userId: Id | null): void {
    if (!state || state.count < this.loginThrottle!.freeAttempts) return
    const now = this.clock.now()
    const retryAt = state.lastFailureAt + this.#delaySeconds(state.count) * 1000
    if (now < retryAt) this.#refuse(userId, Math.ceil((retryAt - now) / 1000))
  }

  /** The handle of an attempt let through by {@link #beginAttempt}; it ends once, whichever way first. */
  #attempt(key: string, pending: string, windowMs: number): LoginAttempt {
    const store = this.loginAttemptStore!
    let ended = false
    const end = async (outcome: () => Promise<number | undefined>): Promise<number | undefined> => {
      if (ended) return undefined
      ended = true
      try {
        // The outcome is written before the reservation is given back, never after (see #beginAttempt).
        return await outcome()
      } finally {
        await store.release(pending)
      }
    }
    return {
      fail: () => end(() => store.recordFailure(key, this.clock.now(), windowMs)),
      succeed: async () => {
        await end(async () => {
          await store.clear(key)
          return undefined
        })
      },
      abandon: async () => {
        await end(async () => undefined)
      },
    }
  }

  /** Seconds to wait after `failures` consecutive failures: 1 s after the last free one, doubling, capped. */
  #delaySeconds(failures: number): number {
    const throttle = this.loginThrottle!
    // 2 ** n is Infinity for a huge n, which the cap absorbs.
    return Math.min(2 ** (failures - throttle.freeAttempts), throttle.maxDelaySeconds)
  }

  #refuse(userId: Id | null, retryAfterSeconds: number): never {
    const seconds = Math.max(1, retryAfterSeconds)
    this.logger.warn(
      { event: 'authn_login_lock', reason: 'throttled', userId, retryAfterSeconds: seconds },
      'attempt refused: too many failures',
    )
    throw new TooManyAttemptsError(seconds)
  }

  /** Forgets the failures of every identifier the user logs in with (the email, and the identifier). */
  async #clearLoginFailures(user: U): Promise<void> {
    if (!this.loginThrottle || !this.loginAttemptStore) return
    const keys = new Set([loginAttemptKey(user.email)])
    const identifier = (user as Record<string, unknown>)[this.userAuthIdentifier]
    if (typeof identifier === 'string') keys.add(loginAttemptKey(identifier))
    for (const key of keys) await this.loginAttemptStore.clear(key)
  }

  async #endSessions(user: U): Promise<void> {
    if (this.sessionRepository) await this.sessionRepository.deleteForUser(user.id)
  }

  /** Validates and canonicalises writable fields; unknown fields throw, so nothing unlisted is ever stored. */
  #checkFields(
    data: Record<string, unknown>,
    mode: 'create' | 'register' | 'update',
  ): Record<string, unknown> {
    const custom = this.userRepository.userFields
    const record: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(data)) {
      if (value === undefined) continue
      if (key === 'password' || key === 'passwordHash') continue
      checkStorableText(key, value)
      if (!BUILT_IN_WRITABLE.has(key) && !Object.hasOwn(custom, key)) {
        throw new ValidationError(key, `unknown field '${key}'`)
      }
      if (mode === 'register' && (key === 'isActive' || key === 'isVerified' || key === 'id')) {
        throw new ValidationError(key, `'${key}' cannot be set at registration`)
      }
      if (mode === 'update' && key === 'id') throw new ValidationError(key, "'id' cannot be changed")
      switch (key) {
        case 'email':
          record.email = canonicalEmail(value)
          break
        case 'username':
          record.username =
            value === null && this.userAuthIdentifier !== 'username' ? null : canonicalUsername(value)
          break
        case 'isActive':
        case 'isVerified':
          if (typeof value !== 'boolean') throw new ValidationError(key, `${key} must be a boolean`)
          record[key] = value
          break
        case 'id': {
          const id = this.parseId(value)
          if (id === null)
            throw new ValidationError(
              'id',
              `id must be a ${this.userRepository.idType === 'uuid' ? 'UUID' : 'positive integer'}`,
            )
          record.id = id
          break
        }
        default:
          record[key] = checkCustomValue(key, value, custom[key]!)
          if (key === this.userAuthIdentifier) record[key] = canonicalIdentifier(key, value)
      }
    }
    if (mode !== 'update') {
      if (record.email === undefined) throw new ValidationError('email', 'email is required')
      if (record[this.userAuthIdentifier] === undefined) {
        throw new ValidationError(this.userAuthIdentifier, `${this.userAuthIdentifier} is required`)
      }
    }
    return record
  }

  #translateConflict(err: unknown): unknown {
    if (err instanceof ConflictError) {
      const field =
        err.field && err.field !== 'id' ? err.field : err.field === 'id' ? 'id' : this.userAuthIdentifier
      return new UserExistsError(field, { cause: err })
    }
    return err
  }

  #roles(): RoleRepository<R> {
    if (!this.roleRepository) {
      throw new TypeError('fastify-users: this service has no `roleRepository`; pass one to use roles')
    }
    return this.roleRepository
  }

  /** The user with this address, or `null` when there is none or the value cannot be an address. */
  async #findByEmail(email: unknown): Promise<U | null> {
    try {
      return await this.userRepository.findOne({ email: canonicalEmail(email) })
    } catch (err) {
      if (err instanceof ValidationError) return null
      throw err
    }
  }

  /**
   * Runs `job` after the current answer, tracked like a mail delivery (so {@link settled} waits for it).
   * The work of a request that must not tell a known address from an unknown one goes here whole: the
   * caller's answer then costs the same whatever the job finds. A failure is logged, never thrown.
   */
  #inBackground(kind: UserMailKind, job: () => Promise<void>): void {
    const task = (async () => {
      // Yield first: the answer is sent before the lookup starts.
      await new Promise<void>((resolve) => setImmediate(resolve))
      try {
        await job()
      } catch (error) {
        this.logger.error({ event: 'background_failed', kind, err: error }, 'background lookup failed')
      }
    })()
    this.#deliveries.add(task)
    void task.finally(() => this.#deliveries.delete(task))
  }

  #deliverNotice(kind: UserMailKind, user: U, send: () => Promise<void>): void {
    // Mail goes out after the answer: an SMTP round trip would otherwise tell a known address from an
    // unknown one by timing, and a failing server would change the answer.
    const delivery = (async () => {
      try {
        if (this.mailCap && !(await this.mailCap.allow(kind, user.email, user.id))) return
        await send()
      } catch (error) {
        this.logger.error({ event: 'mail_failed', kind, userId: user.id, err: error }, 'mail delivery failed')
        try {
          await this.onDeliveryError(error, { kind, user })
        } catch (hookError) {
          this.logger.error(
            { event: 'mail_failed', kind, userId: user.id, err: hookError },
            'onDeliveryError failed',
          )
        }
      }
    })()
    this.#deliveries.add(delivery)
    void delivery.finally(() => this.#deliveries.delete(delivery))
  }

  async #sendMail(
    kind: UserMailKind,
    to: string,
    input: { token?: string; newEmail?: string },
  ): Promise<void> {
    if (!this.#mailer || !this.#mail) {
      if (!this.#warnedNoMailer) {
        this.#warnedNoMailer = true
        this.logger.warn(
          { event: 'mail_not_configured', kind },
          'no mailer configured: mails are not sent; pass `mailer` or override the send methods',
        )
      }
      return
    }
    await this.#mailer.send(composeUserMail(kind, { to, ...input }, this.#mail))
  }
}

/**
 * The fingerprint of an email address that binds verification tokens to it. A hash, not the address: the
 * token travels in a link, and links end up in logs and browser histories.
 */
export function emailFingerprint(email: string): string {
  return createHash('sha256').update(`email:${email}`).digest('base64url').slice(0, 22)
}

/**
 * The key under which failed logins of an identifier are counted: the hex SHA-256 of its canonical form
 * (NFKC, trimmed, lower-cased, as identifiers are stored). A hash, so the store holds no address in clear;
 * of the typed value, so unknown identifiers are counted like known ones.
 *
 * @example
 * ```ts
 * // Lift the throttle of an account by hand (an admin tool):
 * await repos.loginAttemptStore.clear(loginAttemptKey(user.email))
 * ```
 */
export function loginAttemptKey(identifier: string): string {
  return createHash('sha256').update(foldIdentifier(identifier)).digest('hex')
}

/** Compares a fingerprint claim with the expected one in constant time; a missing claim never matches. */
function sameFingerprint(claim: unknown, expected: string): boolean {
  const given = Buffer.from(typeof claim === 'string' ? claim : '')
  const wanted = Buffer.from(expected)
  return given.length === wanted.length && timingSafeEqual(given, wanted)
}

/**
 * How long an attempt that found others in flight for its identifier waits for them to end (they end after
 * one hash), before it is refused with `Retry-After: 1`; and the first interval it polls the store at.
 */
const IN_FLIGHT_WAIT_MS = 30_000
const IN_FLIGHT_POLL_MS = 10
/**
 * Reservations of attempts in flight are forgotten once the last one is this old: an attempt ends after
 * one hash, so only a process that died mid-check leaves one behind, and it must not block for long.
 */
const IN_FLIGHT_WINDOW_MS = 60_000

/** One login attempt let through by the throttle; see `BaseUserService#beginAttempt`. */
interface LoginAttempt {
  /** A wrong password: counts one failure; returns the count. */
  fail(): Promise<number | undefined>
  /** A right password: clears the failures. */
  succeed(): Promise<void>
  /** No password was checked (an error): nothing is counted. A no-op after `fail` or `succeed`. */
  abandon(): Promise<void>
}

/**
 * The key under which the attempts in flight of a throttle key are counted, in the same store: a hash of
 * it, so it has the same shape (64 hex digits) and never collides with an identifier's key.
 */
function inFlightAttemptKey(key: string): string {
  return createHash('sha256').update(`in-flight:${key}`).digest('hex')
}

/** The fingerprint of a password hash that binds reset tokens to it. The hash is salted, so every set changes it. */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22)
}

function purposeFor(aud: string): TokenPurpose {
  for (const purpose of Object.values(tokenPurposes)) if (purpose.audience === aud) return purpose
  return { audience: aud, type: 'JWT' }
}

function checkLifetime(name: string, seconds: number, max: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > max) {
    throw new TypeError(
      `fastify-users: tokenLifetimes.${name} must be a whole number of seconds from 1 to ${max}`,
    )
  }
  return seconds
}

function resolveLoginThrottle(
  option: LoginThrottleOptions | false | undefined,
): Required<LoginThrottleOptions> | null {
  if (option === false) return null
  if (option !== undefined && (option === null || typeof option !== 'object')) {
    throw new TypeError(
      'fastify-users: `loginThrottle` must be an object such as { freeAttempts: 5 }, or false to turn it off',
    )
  }
  const whole = (name: keyof LoginThrottleOptions, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(
        `fastify-users: \`loginThrottle.${name}\` must be a whole number from ${min} to ${max}` +
          (name === 'windowSeconds'
            ? ' (at least maxDelaySeconds, so a delay never outlives its count)'
            : ''),
      )
    }
    return value
  }
  const freeAttempts = whole('freeAttempts', option?.freeAttempts ?? 5, 1, 100)
  const maxDelaySeconds = whole('maxDelaySeconds', option?.maxDelaySeconds ?? 900, 1, 86_400)
  const windowSeconds = whole(
    'windowSeconds',
    option?.windowSeconds ?? Math.max(900, maxDelaySeconds),
    maxDelaySeconds,
    86_400,
  )
  return { freeAttempts, maxDelaySeconds, windowSeconds }
}

function checkDescription(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value
  if (typeof value !== 'string' || value.length > 255) {
    throw new ValidationError('description', 'description must be a string of at most 255 characters')
  }
  return checkStorableText('description', value)
}

function checkCustomValue(key: string, value: unknown, schema: UserFieldSchema): unknown {
  if (value === null) return null
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
  const ok =
    type === undefined ||
    (type === 'string' && typeof value === 'string') ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'integer' && typeof value === 'number' && Number.isSafeInteger(value))
  if (!ok) throw new ValidationError(key, `${key} must be of type ${String(type)}`)
  if (
    typeof value === 'string' &&
    typeof schema.maxLength === 'number' &&
    [...value].length > schema.maxLength
  ) {
    throw new ValidationError(key, `${key} must be at most ${schema.maxLength} characters`)
  }
  return value
}
