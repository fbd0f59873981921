/**
 * The plugin's options, their defaults, and their validation at registration: a wrong option fails at
 * boot with a message naming the option and the fix, never at the first request.
 *
 * @module
 */
import type { preHandlerAsyncHookHandler } from 'fastify'
import type { Kysely, Migration } from 'kysely'
import type { AuthBackendName } from '../auth/auth-backend.js'
import { parseTrustedOrigins } from '../auth/origin-check.js'
import { BUILT_IN_USER_FIELDS, type IdType, type UserFieldSchema } from '../core/user.js'
import type { BaseUserService, TokenLifetimes, UserServiceOptions } from '../core/user-service.js'
import type { Clock } from '../kernel/clock.js'
import type { Mailer } from '../mail/mailer.js'
import type { RateLimitOptions } from './rate-limit.js'

/**
 * Guards of a route group: hooks run at preValidation, before the input is validated (any fails: refused),
 * or `'public'` to say explicitly "no guard".
 */
export type GuardsOption = readonly preHandlerAsyncHookHandler[] | 'public'

/** What every route group config has, as litestar-users' handler configs do. */
export interface RouteGroupConfig {
  /** OpenAPI tags. */
  tags?: string[]
}

/** `POST /login` and `POST /logout`. */
export interface AuthHandlerConfig extends RouteGroupConfig {
  /** Default: `'/login'`. */
  loginPath?: string
  /** Default: `'/logout'`. */
  logoutPath?: string
}

/** `POST /register`. */
export interface RegisterHandlerConfig extends RouteGroupConfig {
  /** Default: `'/register'`. */
  path?: string
}

/** `POST /verify` and `POST /verify/request`. */
export interface VerificationHandlerConfig extends RouteGroupConfig {
  /** Default: `'/verify'`; the resend route is `<path>/request`. */
  path?: string
}

/** `POST /forgot-password` and `POST /reset-password`. */
export interface PasswordResetHandlerConfig extends RouteGroupConfig {
  /** Default: `'/forgot-password'`. */
  forgotPath?: string
  /** Default: `'/reset-password'`. */
  resetPath?: string
}

/** `GET`/`PATCH /users/me` and `POST /users/me/password`. */
export interface CurrentUserHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users/me'`. */
  path?: string
}

/** The admin routes on users. */
export interface UserManagementHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users'`. */
  pathPrefix?: string
  /** Default: `[rolesAccepted('admin')]`. An empty list is refused; say `'public'` to mean it. */
  guards?: GuardsOption
}

/** The admin routes on roles. */
export interface RoleManagementHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users/roles'`. */
  pathPrefix?: string
  /** Default: `[rolesAccepted('admin')]`. An empty list is refused; say `'public'` to mean it. */
  guards?: GuardsOption
}

/** Cookie settings of the cookie backends. */
export interface CookieOptions {
  /**
   * Send cookies with `Secure` and the `__Host-` prefix. Default: `true`. Turn off only for plain-HTTP
   * local development: browsers drop `Secure` cookies on `http://`.
   */
  secure?: boolean
  /** Default: `'lax'`, which with the origin check defeats CSRF while links into the app keep the session. */
  sameSite?: 'lax' | 'strict'
}

/**
 * A user service class. Its user type is the application's (custom fields included), which the plugin
 * cannot name, so the constructor is typed loosely here and the instance strictly where the app uses it.
 */
// biome-ignore lint/suspicious/noExplicitAny: the application's user type is unknown to the plugin (see above).
export type UserServiceClass = new (options: UserServiceOptions<any, any>) => BaseUserService<any, any, any>

/** Options of the `fastify-users` plugin. */
export interface FastifyUsersOptions {
  /** Signs tokens; at least 32 bytes. A list rotates: the first signs, all verify. */
  secret: string | readonly string[]
  /**
   * A Kysely instance the application owns, or a URL the plugin connects to (and closes on shutdown):
   * `sqlite:path/to/file.db`, `sqlite::memory:`, `postgres://...`, `mysql://...`.
   */
  database: string | Kysely<unknown>
  /**
   * When `database` is a URL: how long to keep trying, in milliseconds, while the database cannot be
   * reached at start (refused, restarting) before registration fails with a clear error. Ignored for a
   * Kysely instance.
   *
   * @defaultValue `30000`
   */
  connectTimeoutMs?: number
  /** Run the migrations (ours, then `migrations`) at registration. Default: `false`. */
  migrate?: boolean
  /** The application's own migrations, for example the columns of its custom fields. */
  migrations?: Record<string, Migration>
  /** Id type of users and roles. Default: `'uuid'` (UUIDv7). */
  idType?: IdType
  /** Default: `'session'`. */
  authBackend?: AuthBackendName
  /** Default: `'email'`. */
  userAuthIdentifier?: string
  /**
   * A subclass of `BaseUserService` with the application's hooks, typed on the application's own user
   * (`class UserService extends BaseUserService<AppUser, Role, FastifyRequest>`). Default: `BaseUserService`.
   */
  userServiceClass?: UserServiceClass
  /**
   * The application's custom user fields, declared once (TypeBox schemas or JSON Schema). They flow through
   * registration, `/users/me`, the admin routes, the CLI and the OpenAPI document.
   */
  userFields?: Record<string, UserFieldSchema>
  /** Custom fields only admins may write (not at registration, not through `PATCH /users/me`). */
  adminOnlyFields?: readonly string[]
  /** Default: `true`. */
  requireVerificationOnRegistration?: boolean
  /** Default: `['argon2id']`. */
  hashSchemes?: UserServiceOptions['hashSchemes']
  passwordHashing?: UserServiceOptions['passwordHashing']
  passwordPolicy?: UserServiceOptions['passwordPolicy']
  tokenLifetimes?: TokenLifetimes
  defaultRoles?: readonly string[]
  /**
   * The roles that make an administrator: the default guard of the admin routes accepts them, and the
   * last active holder of one cannot be deleted, deactivated or lose it (409 `ERR_LAST_ADMIN`), nor can an
   * admin do that to themselves (409 `ERR_SELF_LOCKOUT`). Default: `['admin']`.
   */
  adminRoles?: readonly string[]
  /**
   * The cap on mails to one address: at most `max` of each kind (verification, reset, notices) per
   * `windowSeconds`, counted in the database so every instance shares it. Over it, mails are silently
   * not sent (answers do not change) and a `mail_capped` event is logged. `false` turns it off.
   * Default: `{ max: 5, windowSeconds: 3600 }`.
   */
  mailCap?: UserServiceOptions['mailCap']
  /**
   * Per-IP rate limits on every public route (login, register, verification, password reset, and any
   * other route without a guard), with `@fastify/rate-limit`, keyed on `request.ip` (set Fastify's
   * `trustProxy` to your proxies, never `true`). 429 `ERR_RATE_LIMITED` with `Retry-After` beyond them.
   * Counts are kept in memory unless `redis` (an ioredis client) is given. `false` turns them off.
   * Default: on, with the limits of `defaultRateLimits` (e.g. login 20 a minute per address).
   */
  rateLimit?: RateLimitOptions | false
  /**
   * Per-identifier login throttling, or `false` to turn it off (then put another limit in front of the
   * login). Applies to `POST /login` on every backend and to wrong current passwords on
   * `POST /users/me/password`. Default: `{ freeAttempts: 5, maxDelaySeconds: 900, windowSeconds: 900 }`.
   */
  loginThrottle?: UserServiceOptions['loginThrottle']
  /** Sends the mails. Without one, nothing is mailed (a warning is logged once). */
  mailer?: Mailer
  /** The public origin of the application, for the links in mails. Required with a `mailer`. */
  baseUrl?: string
  /**
   * Paths of the pages the mailed links open. Default:
   * `{ verify: '/verify', reset: '/reset-password', confirmEmail: '/confirm-email', cancelEmail: '/cancel-email' }`.
   */
  linkPaths?: { verify?: string; reset?: string; confirmEmail?: string; cancelEmail?: string }
  /** Name of the application in mails. Default: `'fastify-users'`. */
  appName?: string
  /** Origins whose cross-site requests the cookie backends accept (exact origins). Default: none. */
  trustedOrigins?: readonly string[]
  cookie?: CookieOptions
  /** Session lifetimes, in seconds. Defaults: idle `3600`, absolute `86400`. */
  session?: { idleTimeoutSeconds?: number; absoluteTimeoutSeconds?: number }
  /** Serve `GET /openapi.json` and interactive docs at `/docs`. Default: `true`. */
  openapi?: boolean | { title?: string; version?: string; docsPath?: string }
  /** Route groups; `false` turns a group off. Every group is on by default. */
  routes?: {
    auth?: AuthHandlerConfig | false
    register?: RegisterHandlerConfig | false
    verification?: VerificationHandlerConfig | false
    passwordReset?: PasswordResetHandlerConfig | false
    currentUser?: CurrentUserHandlerConfig | false
    userManagement?: UserManagementHandlerConfig | false
    roleManagement?: RoleManagementHandlerConfig | false
  }
  /** Maximum page size of `GET /users`. Default: `100`. */
  maxPageSize?: number
  /** Injected time for every expiry (tokens, sessions). Default: the system clock. For tests. */
  clock?: Clock
}

const BACKENDS: readonly AuthBackendName[] = ['session', 'jwt', 'jwt-cookie']

/** The options after defaults and checks. */
export interface ResolvedOptions {
  authBackend: AuthBackendName
  idType: IdType
  trustedOrigins: Set<string>
  cookieSecure: boolean
  sameSite: 'lax' | 'strict'
  maxPageSize: number
  adminOnlyFields: Set<string>
}

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

/** Checks the options that the service does not check itself. */
export function resolveOptions(options: FastifyUsersOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') fail('options', 'are required: pass { secret, database }')
  if (options.database === undefined || options.database === null || options.database === '') {
    fail('database', "is required: a Kysely instance or a URL such as 'sqlite:data/users.db'")
  }
  const authBackend = options.authBackend ?? 'session'
  if (!BACKENDS.includes(authBackend))
    fail('authBackend', `must be one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}`)
  const idType = options.idType ?? 'uuid'
  if (idType !== 'uuid' && idType !== 'integer') fail('idType', "must be 'uuid' or 'integer'")
  const maxPageSize = options.maxPageSize ?? 100
  if (!Number.isInteger(maxPageSize) || maxPageSize < 1 || maxPageSize > 1000)
    fail('maxPageSize', 'must be an integer from 1 to 1000')
  const fields = options.userFields ?? {}
  for (const [name, schema] of Object.entries(fields)) {
    if (!/^[a-z][A-Za-z0-9]*$/.test(name))
      fail(`userFields.${name}`, 'must be a camelCase name (it maps to a snake_case column)')
    if (!schema || typeof schema !== 'object')
      fail(`userFields.${name}`, 'must be a JSON Schema (for example a TypeBox schema)')
    if (BUILT_IN_USER_FIELDS.has(name)) {
      fail(`userFields.${name}`, 'is a built-in field; choose another name')
    }
  }
  const identifier = options.userAuthIdentifier ?? 'email'
  if (identifier !== 'email' && identifier !== 'username' && !Object.hasOwn(fields, identifier)) {
    fail('userAuthIdentifier', `'${identifier}' must be 'email', 'username' or one of userFields`)
  }
  for (const name of options.adminOnlyFields ?? []) {
    if (!Object.hasOwn(fields, name)) fail('adminOnlyFields', `names '${name}', which is not in userFields`)
  }
  for (const group of ['userManagement', 'roleManagement'] as const) {
    const config = options.routes?.[group]
    if (config && config.guards !== undefined && config.guards !== 'public') {
      if (!Array.isArray(config.guards) || config.guards.length === 0) {
        fail(
          `routes.${group}.guards`,
          "is empty: admin routes need a guard (for example [rolesAccepted('admin')]); say guards: 'public' to serve them to everyone on purpose",
        )
      }
    }
  }
  if (options.mailer && !options.baseUrl) {
    fail(
      'baseUrl',
      "is required with a `mailer`, to build the links in mails (for example 'https://app.example.com')",
    )
  }
  if (
    options.cookie?.sameSite !== undefined &&
    options.cookie.sameSite !== 'lax' &&
    options.cookie.sameSite !== 'strict'
  ) {
    fail('cookie.sameSite', "must be 'lax' or 'strict'")
  }
  return {
    authBackend,
    idType,
    trustedOrigins: parseTrustedOrigins(options.trustedOrigins ?? []),
    cookieSecure: options.cookie?.secure ?? true,
    sameSite: options.cookie?.sameSite ?? 'lax',
    maxPageSize,
    adminOnlyFields: new Set(options.adminOnlyFields ?? []),
  }
}
