/**
 * The two forms of the plugin's options made one: every option grouped by concern (`database`, `user`,
 * `service`, `auth`, `mail`, `routes`) is lifted to its top-level name, so the rest of the plugin reads one
 * flat shape. An option given in both forms, or an unknown key in a group, fails at registration.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import { BACKEND_SHORTHANDS } from '../auth/auth-backend.js'
import type { TokenDenylist } from '../core/repositories.js'
import { BaseUserService } from '../core/user-service.js'
import type { AuthBackendEntry, FastifyUsersOptions } from './options.js'

/** The options in their flat form, with the built objects the application handed over. */
export interface FlatOptions
  extends Omit<FastifyUsersOptions, 'database' | 'service' | 'user' | 'auth' | 'mail' | 'authBackend'> {
  database?: string | Kysely<unknown>
  /** A service the application constructed, used as it is. */
  // biome-ignore lint/suspicious/noExplicitAny: the application's user type is unknown to the plugin.
  serviceInstance?: BaseUserService<any, any, any>
  /** The backends in the order they are asked; at least one. */
  backends: readonly AuthBackendEntry[]
  tokenDenylist?: TokenDenylist
}

type Flat = Record<string, unknown>

const DATABASE_GROUP = {
  connection: 'database',
  connectTimeoutMs: 'connectTimeoutMs',
  migrate: 'migrate',
  migrations: 'migrations',
  tables: 'tables',
  redis: 'redis',
  redisPrefix: 'redisPrefix',
}
const USER_GROUP = {
  idType: 'idType',
  authIdentifier: 'userAuthIdentifier',
  fields: 'userFields',
  adminOnlyFields: 'adminOnlyFields',
}
const SERVICE_GROUP = {
  class: 'userServiceClass',
  requireVerificationOnRegistration: 'requireVerificationOnRegistration',
  hashSchemes: 'hashSchemes',
  passwordHashing: 'passwordHashing',
  passwordPolicy: 'passwordPolicy',
  tokenLifetimes: 'tokenLifetimes',
  issuer: 'issuer',
  defaultRoles: 'defaultRoles',
  adminRoles: 'adminRoles',
  mailCap: 'mailCap',
  loginThrottle: 'loginThrottle',
  clock: 'clock',
}
const AUTH_GROUP = {
  backends: 'backends',
  session: 'session',
  refreshToken: 'refreshToken',
  cookie: 'cookie',
  trustedOrigins: 'trustedOrigins',
  tokenDenylist: 'tokenDenylist',
}
const MAIL_GROUP = { mailer: 'mailer', baseUrl: 'baseUrl', linkPaths: 'linkPaths', appName: 'appName' }

/**
 * The options a constructed service already holds: given next to one, they would be silently ignored, so
 * they are refused. `clock` is allowed when it is the service's own.
 */
const SERVICE_OWNED = [
  'secret',
  ...Object.values(SERVICE_GROUP).filter((name) => name !== 'clock'),
  ...Object.values(MAIL_GROUP).filter((name) => name !== 'appName'),
]

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function lift(flat: Flat, group: unknown, groupName: string, names: Record<string, string>): void {
  if (group === undefined) return
  if (!isPlainObject(group)) fail(groupName, 'must be an object')
  for (const [key, value] of Object.entries(group)) {
    const target = names[key]
    if (target === undefined) {
      fail(`${groupName}.${key}`, `is unknown; \`${groupName}\` takes ${Object.keys(names).join(', ')}`)
    }
    if (value === undefined) continue
    if (flat[target] !== undefined)
      fail(`${groupName}.${key}`, `is also given as \`${target}\`: give it once`)
    flat[target] = value
  }
}

/**
 * Lifts the grouped options to their flat names and checks the combinations: a constructed `service` with
 * options it already holds, an option given twice, `authBackend` next to `auth.backends`.
 *
 * @example
 * ```ts
 * normalizeOptions({ secret, database: { connection: 'sqlite::memory:', migrate: true } }).migrate // true
 * ```
 */
export function normalizeOptions(options: FastifyUsersOptions): FlatOptions {
  if (!isPlainObject(options)) fail('options', 'are required: pass { secret, database }')
  const { database, service, user, auth, mail, authBackend, ...rest } = options
  const flat: Flat = { ...rest }
  if (isPlainObject(database) && !isKysely(database)) {
    lift(flat, database, 'database', DATABASE_GROUP)
  } else if (database !== undefined) {
    flat.database = database
  }
  let serviceInstance: FlatOptions['serviceInstance']
  if (service instanceof BaseUserService) {
    serviceInstance = service
  } else if (service !== undefined) {
    if (isPlainObject(service) && typeof service.authenticate === 'function') {
      fail('service', 'must be an instance of BaseUserService (or a subclass), or an object of settings')
    }
    lift(flat, service, 'service', SERVICE_GROUP)
  }
  lift(flat, user, 'user', USER_GROUP)
  lift(flat, auth, 'auth', AUTH_GROUP)
  lift(flat, mail, 'mail', MAIL_GROUP)
  const routes = options.routes
  if (isPlainObject(routes) && isPlainObject(routes.userManagement)) {
    const { maxPageSize, ...userManagement } = routes.userManagement
    if (maxPageSize !== undefined) {
      if (flat.maxPageSize !== undefined) {
        fail('routes.userManagement.maxPageSize', 'is also given as `maxPageSize`: give it once')
      }
      flat.maxPageSize = maxPageSize
      flat.routes = { ...routes, userManagement }
    }
  }

  if (authBackend !== undefined && flat.backends !== undefined) {
    fail('authBackend', 'and `auth.backends` both name backends: give `auth.backends` only')
  }
  if (authBackend !== undefined && !Object.hasOwn(BACKEND_SHORTHANDS, String(authBackend))) {
    fail(
      'authBackend',
      `must be one of ${Object.keys(BACKEND_SHORTHANDS)
        .map((b) => `'${b}'`)
        .join(', ')}`,
    )
  }
  const backends = flat.backends ?? [authBackend ?? 'session']
  if (!Array.isArray(backends) || backends.length === 0) {
    fail('auth.backends', "must list at least one backend, for example ['session']")
  }

  if (serviceInstance) {
    for (const name of SERVICE_OWNED) {
      if (flat[name] !== undefined) {
        fail(name, 'belongs to the constructed `service`: configure the service itself, not the plugin')
      }
    }
    if (flat.clock !== undefined && flat.clock !== serviceInstance.clock) {
      fail('clock', "differs from the constructed service's clock: pass the clock to the service only")
    }
    const identifier = flat.userAuthIdentifier
    if (identifier !== undefined && identifier !== serviceInstance.userAuthIdentifier) {
      fail(
        'userAuthIdentifier',
        `is '${String(identifier)}' but the constructed service logs in with '${serviceInstance.userAuthIdentifier}'`,
      )
    }
    flat.userAuthIdentifier = serviceInstance.userAuthIdentifier
    flat.clock = serviceInstance.clock
    if (flat.migrate === true && flat.database === undefined) {
      fail('migrate', 'needs a `database` to migrate; the constructed service brings repositories only')
    }
  } else {
    if (flat.database === undefined || flat.database === null || flat.database === '') {
      fail(
        'database',
        "is required: a Kysely instance or a URL such as 'sqlite:data/users.db' (or pass a constructed `service`)",
      )
    }
  }
  return { ...(flat as Omit<FlatOptions, 'backends'>), backends, serviceInstance }
}

// A Kysely instance is an object too; it is told apart from the `database` group by its query builder.
function isKysely(value: Record<string, unknown>): boolean {
  return typeof value.selectFrom === 'function'
}
