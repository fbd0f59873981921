/**
 * The plugin's options, their defaults, and their validation at registration: a wrong option fails at
 * boot with a message naming the option and the fix, never at the first request.
 *
 * @module
 */

import type { Kysely, Migration } from 'kysely'
import type { AuthBackend, AuthBackendName, AuthStrategy, AuthTransport } from '../auth/auth-backend.js'
import { parseTrustedOrigins } from '../auth/origin-check.js'
import type { RefreshTokenOptions } from '../core/refresh-tokens.js'
import type { TokenDenylist } from '../core/repositories.js'
import type { IdType, UserFieldSchema } from '../core/user.js'
import { checkCustomFieldNames } from '../core/user-fields.js'
import type { BaseUserService, TokenLifetimes, UserServiceOptions } from '../core/user-service.js'
import type { Clock } from '../kernel/clock.js'
import type { Mailer } from '../mail/mailer.js'
import {
  resolveTableNames,
  type TableNames,
  type TableNamesOption,
} from '../persistence/kysely/table-names.js'
import type { AuthCacheSettings } from './cache-setup.js'
import type { FlatOptions } from './normalize-options.js'
import type { OAuthOptions } from './oauth/providers.js'
import type { PagesOptions } from './pages.js'
import type { PasskeysPluginOptions } from './passkey-setup.js'
import type { RateLimitOptions } from './rate-limit.js'
import type { RedisPluginOptions } from './redis-options.js'
import type {
  AuthHandlerConfig,
  CurrentUserHandlerConfig,
  PasswordResetHandlerConfig,
  RegisterHandlerConfig,
  RoleManagementHandlerConfig,
  UserManagementHandlerConfig,
  VerificationHandlerConfig,
} from './route-options.js'
import type { TwoFactorHandlerConfig } from './two-factor-setup.js'

export type {
  AuthHandlerConfig,
  CurrentUserHandlerConfig,
  GuardsOption,
  PasswordResetHandlerConfig,
  RegisterHandlerConfig,
  RoleManagementHandlerConfig,
  RouteGroupConfig,
  UserManagementHandlerConfig,
  VerificationHandlerConfig,
} from './route-options.js'

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

/**
 * A backend by its two choices: where the credential travels (`transport`) and what it is (`strategy`).
 *
 * @example
 * ```ts
 * // An opaque database session for an API client, in `Authorization: Bearer`:
 * const api: AuthBackendSpec = { name: 'api', transport: 'bearer', strategy: 'session' }
 * ```
 */
export interface AuthBackendSpec {
  /**
   * Names the backend; its login routes are `/auth/<name>/login` and `/auth/<name>/logout` unless it is the
   * first backend. Letters, digits and `-`. Default: the shorthand name of the pair (`session`, `jwt`,
   * `jwt-cookie`), `session-bearer` for a session in a Bearer header.
   */
  name?: string
  transport: AuthTransport
  strategy: AuthStrategy
  /**
   * The cookie, on the cookie transport. Default: `__Host-fastify-users-session` (session) or
   * `__Host-fastify-users-token` (JWT), `__Host-fastify-users-<name>` when that is taken; without the
   * `__Host-` prefix when `cookie.secure` is `false`.
   */
  cookieName?: string
}

/**
 * One configured backend: a shorthand name, a transport and strategy pair, or a backend you built.
 *
 * @example
 * ```ts
 * const backends: AuthBackendEntry[] = ['session', { name: 'api', transport: 'bearer', strategy: 'jwt' }]
 * ```
 */
export type AuthBackendEntry = AuthBackendName | AuthBackendSpec | AuthBackend

/**
 * How requests are authenticated: the `auth` group of the options.
 *
 * @example
 * ```ts
 * const auth: AuthOptions = { backends: ['session', 'jwt'], trustedOrigins: ['https://app.example.com'] }
 * ```
 */
export interface AuthOptions {
  /**
   * The backends, asked in this order on every request: the first that recognises the request's credential
   * wins. The first backend's login and logout routes are at the `routes.auth` paths (`/login`, `/logout`),
   * every other's at `/auth/<name>/login` and `/auth/<name>/logout`. Default: `['session']`.
   */
  backends?: readonly AuthBackendEntry[]
  /** Session lifetimes of the session strategy, in seconds. Defaults: idle `3600`, absolute `86400`. */
  session?: { idleTimeoutSeconds?: number; absoluteTimeoutSeconds?: number }
  /**
   * Refresh tokens of the JWT backends, in seconds, or `false` for none (access tokens only). Default: on
   * with a `database`: `{ idleSeconds: 1209600, absoluteSeconds: 2592000 }` (14 days unused, 30 days per login).
   */
  refreshToken?: RefreshTokenOptions | false
  /** Cookie settings of the cookie transport. */
  cookie?: CookieOptions
  /** Origins whose cross-site requests are accepted when a backend uses a cookie (exact origins). */
  trustedOrigins?: readonly string[]
  /**
   * Where logged-out JWTs are kept until they expire. Default: the `database`'s. Needed by the JWT
   * strategy when a constructed `service` is given without a `database`.
   */
  tokenDenylist?: TokenDenylist
}

/**
 * Where the data lives: the `database` group of the options.
 *
 * @example
 * ```ts
 * const database: DatabaseOptions = { connection: 'sqlite:data/app.db', migrate: true }
 * ```
 */
export interface DatabaseOptions extends RedisPluginOptions {
  /** A URL the plugin connects to (and closes on shutdown), or a Kysely instance the application owns. */
  connection: string | Kysely<unknown>
  /** The same as the top-level `connectTimeoutMs`. */
  connectTimeoutMs?: number
  /** Run the migrations at registration. Default: `false`. */
  migrate?: boolean
  /** The application's own migrations. */
  migrations?: Record<string, Migration>
  /** The same as the top-level `tables`: a prefix and/or explicit names for the library's tables. */
  tables?: TableNamesOption
}

/**
 * The shape of a user: the `user` group of the options.
 *
 * @example
 * ```ts
 * const user: UserModelOptions = { idType: 'integer', fields: { displayName: Type.String() } }
 * ```
 */
export interface UserModelOptions {
  /** Id type of users and roles. Default: `'uuid'`. */
  idType?: IdType
  /** The column users log in with (top-level: `userAuthIdentifier`). Default: `'email'`. */
  authIdentifier?: string
  /** The application's custom user fields (top-level: `userFields`). */
  fields?: Record<string, UserFieldSchema>
  /** Custom fields only admins may write. */
  adminOnlyFields?: readonly string[]
}

/**
 * How the plugin builds its user service: the `service` group of the options (each as at the top level).
 *
 * @example
 * ```ts
 * const service: ServiceSettings = { class: UserService, issuer: 'https://app.example.com', defaultRoles: ['member'] }
 * ```
 */
export interface ServiceSettings {
  /** A subclass of `BaseUserService` (top-level: `userServiceClass`). Default: `BaseUserService`. */
  class?: UserServiceClass
  requireVerificationOnRegistration?: boolean
  hashSchemes?: UserServiceOptions['hashSchemes']
  passwordHashing?: UserServiceOptions['passwordHashing']
  passwordPolicy?: UserServiceOptions['passwordPolicy']
  tokenLifetimes?: TokenLifetimes
  /** The `iss` claim of every token. Default: `'fastify-users'`. */
  issuer?: string
  defaultRoles?: readonly string[]
  adminRoles?: readonly string[]
  mailCap?: UserServiceOptions['mailCap']
  loginThrottle?: UserServiceOptions['loginThrottle']
  clock?: Clock
}

/**
 * What the service mails and where its links point: the `mail` group of the options.
 *
 * @example
 * ```ts
 * const mail: MailSettings = { mailer: SmtpMailer.fromUrl(process.env.SMTP_URL!), baseUrl: 'https://app.example.com' }
 * ```
 */
export interface MailSettings {
  mailer?: Mailer
  baseUrl?: string
  linkPaths?: { verify?: string; reset?: string; confirmEmail?: string; cancelEmail?: string }
  appName?: string
}

/**
 * Options of the `fastify-users` plugin. Each option exists at the top level (the short form) and in the
 * group of its concern (`database`, `user`, `service`, `auth`, `mail`, `routes`, `openapi`, `rateLimit`);
 * giving one option in both places is refused.
 */
export interface FastifyUsersOptions extends RedisPluginOptions {
  /**
   * Signs tokens; at least 32 bytes. A list rotates: the first signs, all verify. Required unless a
   * constructed `service` is given (it signs with its own).
   */
  secret?: string | readonly string[]
  /**
   * A Kysely instance the application owns, or a URL the plugin connects to (and closes on shutdown):
   * `sqlite:path/to/file.db`, `sqlite::memory:`, `postgres://...`, `mysql://...`; or the `database` group.
   * Required unless a constructed `service` is given.
   */
  database?: string | Kysely<unknown> | DatabaseOptions
  /**
   * The user service: a constructed `BaseUserService` (or subclass) with its own repositories, which the
   * plugin then uses as it is (sessions, login throttle, mail cap and mail all come from it); or the
   * settings from which the plugin builds one.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the application's user type is unknown to the plugin.
  service?: BaseUserService<any, any, any> | ServiceSettings
  /** The shape of a user, grouped. */
  user?: UserModelOptions
  /** Authentication, grouped: one or several backends, sessions, cookies, trusted origins. */
  auth?: AuthOptions
  /** Mail, grouped. */
  mail?: MailSettings
  /** Sign-in with identity providers (OpenID Connect, OAuth 2); off when absent. See docs/oauth.md. */
  oauth?: OAuthOptions
  /** The `iss` claim of every token. Default: `'fastify-users'`. */
  issuer?: string
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
  /**
   * Where the tables live, for a database that already has a `users` (or `roles`, `sessions`...) table:
   * a prefix for every table (`{ prefix: 'auth_' }` gives `auth_users`, `auth_roles`, ...) and/or an
   * explicit name per table (`{ users: 'account_holders' }`). Used by the migrations and every query; the
   * CLI takes the same (`--table-prefix`, `--tables`). Invalid names fail the registration with a TypeError.
   * Default: the plain names (`users`, `roles`, ...).
   */
  tables?: TableNamesOption
  /** The single backend, by shorthand name (the same as `auth.backends: [name]`). Default: `'session'`. */
  authBackend?: AuthBackendName
  /** Default: `'email'`. */
  userAuthIdentifier?: string
  /**
   * A subclass of `BaseUserService` with the application's hooks, typed on the application's own user
   * (`class UserService extends BaseUserService<AppUser, Role, FastifyRequest>`). Default: `BaseUserService`.
   */
  userServiceClass?: UserServiceClass
  /**
   * The application's custom user fields, declared once (TypeBox schemas, or JSON Schemas `as const`). They
   * flow through registration, `/users/me`, the admin routes, the CLI and the OpenAPI document, and
   * `UserWith<typeof userFields>` derives the user type from them. Default: none.
   *
   * @example
   * ```ts
   * const userFields = { displayName: Type.String({ maxLength: 100 }) }
   * type AppUser = UserWith<typeof userFields> // BaseUser & { displayName: string | null }
   * ```
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
  /**
   * Serve the pages the mailed links open: `GET /verify`, `/reset-password`, `/confirm-email` and
   * `/cancel-email` (under the plugin's prefix), small forms whose same-origin script reads the token from
   * the link's fragment and posts it to the API. With them on, `linkPaths` default to their paths. An object
   * moves them (`paths`, `scriptPath`) or names the application (`appName`). Default: `false` (the
   * application serves its own pages at `linkPaths`).
   *
   * @example
   * ```ts
   * { pages: true }
   * { pages: { paths: { verify: '/account/verify' }, appName: 'Acme' } }
   * ```
   */
  pages?: boolean | PagesOptions
  /** Origins whose cross-site requests the cookie backends accept (exact origins). Default: none. */
  trustedOrigins?: readonly string[]
  cookie?: CookieOptions
  /** Session lifetimes, in seconds. Defaults: idle `3600`, absolute `86400`. */
  session?: { idleTimeoutSeconds?: number; absoluteTimeoutSeconds?: number }
  /** Refresh tokens of the JWT backends, or `false`; see `auth.refreshToken`. */
  refreshToken?: RefreshTokenOptions | false
  /**
   * Serve `GET /openapi.json` and interactive docs at `/docs`. Default: `true`. `servers` is the document's
   * `servers` list (default `[{ url: '/' }]`: the origin the document was fetched from); a server URL whose
   * path is the prefix the plugin is registered under is stripped from the documented paths.
   */
  openapi?:
    | boolean
    | {
        title?: string
        version?: string
        docsPath?: string
        servers?: Array<{ url: string; description?: string }>
      }
  /** Route groups; `false` turns a group off. Every group is on by default. */
  routes?: {
    auth?: AuthHandlerConfig | false
    register?: RegisterHandlerConfig | false
    verification?: VerificationHandlerConfig | false
    passwordReset?: PasswordResetHandlerConfig | false
    currentUser?: CurrentUserHandlerConfig | false
    userManagement?: UserManagementHandlerConfig | false
    roleManagement?: RoleManagementHandlerConfig | false
    /** Off unless given; see `TwoFactorHandlerConfig`. */
    twoFactor?: TwoFactorHandlerConfig | false
  }
  /** Maximum page size of `GET /users`. Default: `100`. */
  maxPageSize?: number
  /**
   * Passkeys (WebAuthn): log in with a passkey alone at `POST /login/passkey`, manage them under
   * `/users/me/passkeys`. `rpId`, `rpName` and `origins` are required. Default: off.
   */
  passkeys?: PasskeysPluginOptions
  /** Injected time for every expiry (tokens, sessions). Default: the system clock. For tests. */
  clock?: Clock
  /** The authentication cache (see `AuthCacheSettings`); `false` turns it off. Default: see docs/scaling.md. */
  cache?: AuthCacheSettings | false
}

/** The options after defaults and checks. */
export interface ResolvedOptions {
  idType: IdType
  tables: TableNames
  trustedOrigins: Set<string>
  cookieSecure: boolean
  sameSite: 'lax' | 'strict'
  maxPageSize: number
  adminOnlyFields: Set<string>
}

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

/** Checks the options (in their flat form) that the service does not check itself. */
export function resolveOptions(options: FlatOptions): ResolvedOptions {
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
  }
  // The service checks them too (a service built without the plugin); here they fail before any connection.
  checkCustomFieldNames(fields, 'userFields')
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
  const tables = resolveTableNames(options.tables)
  return {
    idType,
    tables,
    trustedOrigins: parseTrustedOrigins(options.trustedOrigins ?? []),
    cookieSecure: options.cookie?.secure ?? true,
    sameSite: options.cookie?.sameSite ?? 'lax',
    maxPageSize,
    adminOnlyFields: new Set(options.adminOnlyFields ?? []),
  }
}
