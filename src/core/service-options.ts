/**
 * The options of `BaseUserService`, their validation and their defaults, and the one place where the
 * service's default collaborators are built: the password manager and policy, the token codec, the mail
 * cap and the mail post. Everything else in `core` receives them built.
 *
 * @module
 */

import { type Clock, systemClock } from '../kernel/clock.js'
import { type Logger, silentLogger } from '../kernel/logger.js'
import type { Mailer } from '../mail/mailer.js'
import { composeUserMail, type MailLinkOptions } from '../mail/messages.js'
import { PasswordManager, type PasswordManagerOptions } from '../password/password-manager.js'
import { PasswordPolicy, type PasswordPolicyOptions, userContextWords } from '../password/password-policy.js'
import { TokenCodec } from '../tokens/token-codec.js'
import { AdminGuard, type ExclusiveLock } from './admin-guard.js'
import { canonicalRoleName } from './identifiers.js'
import { LoginThrottle, type LoginThrottleOptions, resolveLoginThrottle } from './login-throttle.js'
import { MailCap, type MailCapOptions, type MailCapStore } from './mail-cap.js'
import type { MailPost } from './notices.js'
import type { OAuthAccountRepository } from './oauth-accounts.js'
import type { NewPasswordCheck } from './ports.js'
import type { RefreshTokenStore } from './refresh-tokens.js'
import type {
  LoginAttemptStore,
  RoleRepository,
  SessionRepository,
  TokenDenylist,
  UserRepository,
} from './repositories.js'
import { SecretBox } from './secret-box.js'
import type { BaseUser, Role } from './user.js'
import { checkCustomFieldNames } from './user-fields.js'

/**
 * Token lifetimes, in seconds.
 *
 * @example
 * ```ts
 * const tokenLifetimes: TokenLifetimes = { passwordReset: 1800 } // 30 min
 * ```
 */
export interface TokenLifetimes {
  /** Email verification tokens. Default: `86400` (24 h, NIST's ceiling for emailed codes). */
  verification?: number
  /** Password reset tokens. Default: `3600` (1 h). */
  passwordReset?: number
  /** Access tokens of the JWT backends. Default: `900` (15 min). */
  access?: number
}

/**
 * Options of `BaseUserService`.
 *
 * @example
 * ```ts
 * const options: UserServiceOptions = { secret: process.env.USERS_SECRET!, ...createKyselyRepositories(db) }
 * ```
 */
export interface UserServiceOptions<U extends BaseUser = BaseUser, R extends Role = Role> {
  /**
   * Signs every token. At least 32 bytes; a list rotates secrets (the first signs, all verify).
   * Misuse throws `TypeError` at construction.
   */
  secret: string | readonly string[]
  /** The column users log in with. Default: `'email'`; `'username'` or any unique column works. */
  userAuthIdentifier?: string
  /** Where users live. Its custom fields may not take a built-in name (`TypeError` at construction). */
  userRepository: UserRepository<U>
  /** Where roles live. Required by the role methods and by `defaultRoles`. */
  roleRepository?: RoleRepository<R>
  /**
   * Where sessions live; when given, ending a user's credentials (or deleting the user) also deletes their
   * session rows at once.
   */
  sessionRepository?: SessionRepository
  /** Where identity-provider links live; needed by the provider sign-in methods. Default: none. */
  oauthAccountRepository?: OAuthAccountRepository
  /**
   * Whether users can log in with a passkey alone (a `Passkeys` login is offered): a user's passkeys then
   * count as a way to log in, so unlinking their last provider is allowed while a passkey remains. The
   * plugin sets it when its `passkeys` option is on. Default: `false` (passkeys do not count).
   */
  passkeyLogin?: boolean
  /**
   * The deny-list of the JWT backends (`createKyselyRepositories(db).tokenDenylist`); given, `purgeExpired()`
   * sweeps its expired entries too. Default: none.
   */
  tokenDenylist?: TokenDenylist
  /**
   * Where the refresh tokens of the JWT backends live (`createKyselyRepositories(db).refreshTokenStore`);
   * without it the JWT backends issue no refresh tokens. Default: none.
   */
  refreshTokenStore?: RefreshTokenStore
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

/**
 * The options of `BaseUserService`, checked, with every default filled in and every collaborator built.
 *
 * @example
 * ```ts
 * const { tokens, passwords } = resolveServiceOptions({ secret, userRepository })
 * ```
 */
export interface ResolvedServiceOptions<U extends BaseUser, R extends Role> {
  userAuthIdentifier: string
  userRepository: UserRepository<U>
  roleRepository: RoleRepository<R> | undefined
  sessionRepository: SessionRepository | undefined
  oauthAccountRepository: OAuthAccountRepository | undefined
  /** Whether passkeys count as a way to log in (`UserServiceOptions.passkeyLogin`). */
  passkeyLogin: boolean
  tokenDenylist: TokenDenylist | undefined
  refreshTokenStore: RefreshTokenStore | undefined
  /** `null` when throttling is off (`loginThrottle: false`, or no `loginAttemptStore`). */
  loginThrottle: LoginThrottle | null
  requireVerificationOnRegistration: boolean
  tokenLifetimes: Required<TokenLifetimes>
  passwords: PasswordManager
  passwordPolicy: PasswordPolicy
  /** The policy's check of a new password, with the words of the user it is for. */
  checkNewPassword: NewPasswordCheck
  tokens: TokenCodec
  /** Seals the provider tokens stored with provider links (oauth-tokens.ts). */
  providerTokenBox: SecretBox
  clock: Clock
  logger: Logger
  defaultRoles: readonly string[]
  adminGuard: AdminGuard<U>
  mailCap: MailCap | null
  post: MailPost
}

/**
 * Checks `UserServiceOptions` and builds the default collaborators. Misuse throws `TypeError` naming the
 * option and the fix.
 *
 * @example
 * ```ts
 * const resolved = resolveServiceOptions({ secret, userRepository })
 * resolved.tokenLifetimes.verification // 86400
 * ```
 */
export function resolveServiceOptions<U extends BaseUser, R extends Role>(
  options: UserServiceOptions<U, R>,
): ResolvedServiceOptions<U, R> {
  if (!options || typeof options !== 'object') throw new TypeError('fastify-users: options are required')
  if (!options.userRepository) {
    throw new TypeError(
      'fastify-users: `userRepository` is required (for example createKyselyRepositories(db).userRepository)',
    )
  }
  checkCustomFieldNames(options.userRepository.userFields ?? {}, 'userRepository.userFields')
  const userAuthIdentifier = options.userAuthIdentifier ?? 'email'
  if (typeof userAuthIdentifier !== 'string' || userAuthIdentifier.length === 0) {
    throw new TypeError(
      "fastify-users: `userAuthIdentifier` must be a column name such as 'email' or 'username'",
    )
  }
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const throttle = resolveLoginThrottle(options.loginThrottle)
  // Built in the order the options were always checked, so a misconfiguration names the same option first.
  const tokens = new TokenCodec({ secret: options.secret, issuer: options.issuer, clock })
  const passwords = new PasswordManager({
    ...options.passwordHashing,
    schemes: options.hashSchemes ?? ['argon2id'],
  })
  const passwordPolicy = new PasswordPolicy(
    {
      ...options.passwordPolicy,
      contextWords: [
        ...(options.passwordPolicy?.contextWords ?? []),
        ...(options.mail?.appName ? [options.mail.appName] : []),
      ],
    },
    logger,
  )
  const tokenLifetimes = {
    verification: checkLifetime('verification', options.tokenLifetimes?.verification ?? 86_400, 86_400),
    passwordReset: checkLifetime('passwordReset', options.tokenLifetimes?.passwordReset ?? 3_600, 86_400),
    access: checkLifetime('access', options.tokenLifetimes?.access ?? 900, 86_400),
  }
  const defaultRoles = (options.defaultRoles ?? []).map((name) => canonicalRoleName(name))
  if (defaultRoles.length > 0 && !options.roleRepository) {
    throw new TypeError(
      'fastify-users: `defaultRoles` needs a `roleRepository` to assign them; pass one or drop defaultRoles',
    )
  }
  const mail = checkMailOptions(options.mailer, options.mail)
  return {
    userAuthIdentifier,
    userRepository: options.userRepository,
    roleRepository: options.roleRepository,
    sessionRepository: options.sessionRepository,
    oauthAccountRepository: options.oauthAccountRepository,
    passkeyLogin: options.passkeyLogin === true,
    providerTokenBox: new SecretBox(options.secret, 'fastify-users oauth provider tokens'),
    tokenDenylist: options.tokenDenylist,
    refreshTokenStore: options.refreshTokenStore,
    // Without a store there is nowhere to count, so throttling is off (documented on the option).
    loginThrottle:
      throttle && options.loginAttemptStore
        ? new LoginThrottle(throttle, options.loginAttemptStore, clock, logger)
        : null,
    requireVerificationOnRegistration: options.requireVerificationOnRegistration ?? true,
    tokenLifetimes,
    tokens,
    passwords,
    passwordPolicy,
    checkNewPassword: (password, user) => passwordPolicy.validate(password, userContextWords(user)),
    clock,
    logger,
    defaultRoles,
    adminGuard: new AdminGuard({
      users: options.userRepository,
      adminRoles: options.adminRoles,
      lock: options.adminLock,
    }),
    mailCap:
      options.mailCap === false || !options.mailCapStore
        ? null
        : new MailCap(options.mailCapStore, options.mailCap ?? {}, clock, logger),
    post: mail ? async (kind, input) => mail.mailer.send(composeUserMail(kind, input, mail.links)) : null,
  }
}

function checkMailOptions(
  mailer: Mailer | undefined,
  links: MailLinkOptions | undefined,
): { mailer: Mailer; links: MailLinkOptions } | null {
  if (mailer && !links?.baseUrl) {
    throw new TypeError(
      "fastify-users: a `mailer` needs `mail.baseUrl` (for example 'https://app.example.com') to build links",
    )
  }
  if (links?.baseUrl) {
    let url: URL
    try {
      url = new URL(links.baseUrl)
    } catch {
      throw new TypeError('fastify-users: `mail.baseUrl` must be an absolute http(s) URL')
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError('fastify-users: `mail.baseUrl` must be an absolute http(s) URL')
    }
  }
  return mailer && links ? { mailer, links } : null
}

function checkLifetime(name: string, seconds: number, max: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > max) {
    throw new TypeError(
      `fastify-users: tokenLifetimes.${name} must be a whole number of seconds from 1 to ${max}`,
    )
  }
  return seconds
}
