/**
 * The plugin's user service: the application's constructed one, or one built from the options. The
 * service options are built here, in one place, from the flat form of the plugin's options.
 *
 * @module
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuthCache } from '../auth/auth-cache.js'
import { withCacheInvalidation, withDenylistInvalidation } from '../auth/cache-invalidation.js'
import type { ExclusiveLock } from '../core/admin-guard.js'
import type { MailCapStore } from '../core/mail-cap.js'
import type { LoginAttemptStore, SessionRepository, TokenDenylist } from '../core/repositories.js'
import type { BaseUser, IdType, Role } from '../core/user.js'
import { BaseUserService, type UserServiceOptions } from '../core/user-service.js'
import { createKyselyRepositories } from '../persistence/kysely/index.js'
import type { FlatOptions } from './normalize-options.js'
import type { PageName } from './pages.js'

/** The short-lived stores, which move to Redis when the plugin's `redis` option is set. */
export interface SharedStores {
  sessionRepository: SessionRepository
  tokenDenylist: TokenDenylist
  loginAttemptStore: LoginAttemptStore
  mailCapStore: MailCapStore
  adminLock: ExclusiveLock
}

type KyselyRepositories = Pick<
  ReturnType<typeof createKyselyRepositories>,
  'userRepository' | 'roleRepository' | 'oauthAccountRepository' | 'refreshTokenStore'
> &
  SharedStores

/** Where mailed links point when `linkPaths` does not say: the plugin's own pages, when they are on. */
export type LinkDefaults = Partial<Record<PageName, string>>

/**
 * The service options the plugin's options describe, on the given repositories.
 *
 * @example
 * ```ts
 * new BaseUserService(serviceOptionsFrom(flat, createKyselyRepositories(db), app.log))
 * ```
 */
export function serviceOptionsFrom(
  options: FlatOptions,
  repos: KyselyRepositories,
  logger: FastifyBaseLogger,
  linkDefaults: LinkDefaults = {},
): UserServiceOptions<BaseUser, Role> {
  if (options.secret === undefined) {
    throw new TypeError(
      'fastify-users: option `secret` is required (at least 32 bytes; or pass a constructed `service`)',
    )
  }
  return {
    secret: options.secret,
    issuer: options.issuer,
    userAuthIdentifier: options.userAuthIdentifier ?? 'email',
    userRepository: repos.userRepository,
    roleRepository: repos.roleRepository,
    sessionRepository: repos.sessionRepository,
    oauthAccountRepository: repos.oauthAccountRepository,
    passkeyLogin: options.passkeys !== undefined,
    tokenDenylist: options.tokenDenylist ?? repos.tokenDenylist,
    refreshTokenStore: repos.refreshTokenStore,
    loginAttemptStore: repos.loginAttemptStore,
    loginThrottle: options.loginThrottle,
    adminRoles: options.adminRoles,
    adminLock: repos.adminLock,
    mailCapStore: repos.mailCapStore,
    mailCap: options.mailCap,
    hashSchemes: options.hashSchemes,
    passwordHashing: options.passwordHashing,
    passwordPolicy: options.passwordPolicy,
    requireVerificationOnRegistration: options.requireVerificationOnRegistration,
    tokenLifetimes: options.tokenLifetimes,
    defaultRoles: options.defaultRoles,
    mailer: options.mailer,
    mail: options.baseUrl
      ? {
          baseUrl: options.baseUrl,
          verifyPath: options.linkPaths?.verify ?? linkDefaults.verify,
          resetPath: options.linkPaths?.reset ?? linkDefaults.reset,
          confirmEmailPath: options.linkPaths?.confirmEmail ?? linkDefaults.confirmEmail,
          cancelEmailPath: options.linkPaths?.cancelEmail ?? linkDefaults.cancelEmail,
          appName: options.appName,
        }
      : undefined,
    logger,
    clock: options.clock,
  }
}

/** The service and the deny-list of logged-out JWTs, when there is one. */
export interface PluginService {
  service: BaseUserService<BaseUser, Role, FastifyRequest>
  tokenDenylist: TokenDenylist | undefined
}

/**
 * The application's constructed service, or a new one (of `userServiceClass`) on the database's
 * repositories. The deny-list is `auth.tokenDenylist`, else the constructed service's, else the database's.
 *
 * @example
 * ```ts
 * const { service } = setUpService(flat, db, 'uuid', app.log)
 * ```
 */
export function setUpService(
  options: FlatOptions,
  db: Kysely<unknown> | undefined,
  idType: IdType,
  logger: FastifyBaseLogger,
  linkDefaults: LinkDefaults = {},
  shared?: SharedStores,
  cache?: AuthCache,
): PluginService {
  const clock = options.clock
  const built: KyselyRepositories | undefined = db
    ? {
        ...createKyselyRepositories(db, {
          idType,
          tables: options.tables,
          userFields: options.userFields,
          now: clock ? () => clock.now() : undefined,
        }),
        ...shared,
      }
    : undefined
  // With the cache on, every revoking write (the deny-list the application gave included) invalidates it.
  const repos = built && cache ? withCacheInvalidation(built, cache) : built
  if (cache && options.tokenDenylist) {
    options = { ...options, tokenDenylist: withDenylistInvalidation(options.tokenDenylist, cache) }
  }
  if (options.serviceInstance) {
    const service = options.serviceInstance as PluginService['service']
    return { service, tokenDenylist: options.tokenDenylist ?? service.tokenDenylist ?? repos?.tokenDenylist }
  }
  const tokenDenylist = options.tokenDenylist ?? repos?.tokenDenylist
  // normalizeOptions refuses a plugin without a database and without a constructed service.
  if (!repos) throw new TypeError('fastify-users: option `database` is required')
  const ServiceClass = options.userServiceClass ?? BaseUserService
  const service = new ServiceClass(
    serviceOptionsFrom(options, repos, logger, linkDefaults),
  ) as PluginService['service']
  return { service, tokenDenylist }
}
