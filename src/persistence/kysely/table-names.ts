/**
 * The names of fastify-users' tables, so it can share a database that already has a `users` (or `roles`,
 * `sessions`, ...) table of its own. One option decides every name: the tables, the migration bookkeeping
 * tables, and the indexes and constraints (derived from their table's name, so they stay unique too).
 *
 * The migrations take the resolved names explicitly. The repositories keep writing the default names and
 * run on a Kysely instance that renames tables as queries are compiled ({@link withTableNames}): one place
 * knows the mapping, and the hot paths compile their SQL once either way.
 *
 * @module
 */
import {
  IdentifierNode,
  type Kysely,
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type TableNode,
  type UnknownRow,
} from 'kysely'

/** The built-in tables, by the key that names each in {@link TableNamesOption}. */
const DEFAULT_TABLES = {
  users: 'users',
  roles: 'roles',
  userRoles: 'user_roles',
  sessions: 'sessions',
  revokedTokens: 'revoked_tokens',
  loginAttempts: 'login_attempts',
  mailCap: 'mail_cap',
  oauthAccounts: 'oauth_accounts',
  refreshTokens: 'refresh_tokens',
  userTotp: 'user_totp',
  stepUpProofs: 'step_up_proofs',
  passkeys: 'passkeys',
  passkeyChallenges: 'passkey_challenges',
} as const

/** A key of {@link DEFAULT_TABLES}: one built-in table. */
export type TableKey = keyof typeof DEFAULT_TABLES

/**
 * Where fastify-users keeps its data: a prefix for every table, and/or an explicit name per table.
 *
 * An explicit name is used exactly as given (the prefix does not apply to it); the prefix applies to
 * every other table and to the migration bookkeeping tables. Names are lower-case letters, digits and
 * `_`, starting with a letter or `_`, and every name derived from them (tables, indexes, constraints)
 * must fit in 63 characters, PostgreSQL's limit (MySQL's is 64).
 *
 * @defaultValue `{}`: `users`, `roles`, `user_roles`, `sessions`, `revoked_tokens`, `login_attempts`,
 *   `mail_cap`, `refresh_tokens`, `oauth_accounts`, `user_totp`, `step_up_proofs`, `passkeys`,
 *   `passkey_challenges`, `fastify_users_migration` (the names of every earlier version, and of the tables
 *   added since).
 *
 * @example
 * ```ts
 * // auth_users, auth_roles, ..., auth_fastify_users_migration
 * const tables: TableNamesOption = { prefix: 'auth_' }
 * // account_holders for users, auth_roles and so on for the others
 * const mixed: TableNamesOption = { prefix: 'auth_', users: 'account_holders' }
 * ```
 */
export interface TableNamesOption {
  /** Put before every table name that is not given explicitly. Default: `''`. */
  prefix?: string
  /** The users table. Default: `${prefix}users`. */
  users?: string
  /** The roles table. Default: `${prefix}roles`. */
  roles?: string
  /** The links between users and roles. Default: `${prefix}user_roles`. */
  userRoles?: string
  /** Server-side sessions. Default: `${prefix}sessions`. */
  sessions?: string
  /** Access tokens ended before their expiry. Default: `${prefix}revoked_tokens`. */
  revokedTokens?: string
  /** Failed-login counters. Default: `${prefix}login_attempts`. */
  loginAttempts?: string
  /** Mail counters per address. Default: `${prefix}mail_cap`. */
  mailCap?: string
  /** Identity-provider accounts linked to users. Default: `${prefix}oauth_accounts`. */
  oauthAccounts?: string
  /** Refresh tokens of the JWT backends (hashed). Default: `${prefix}refresh_tokens`. */
  refreshTokens?: string
  /** TOTP second factors and recovery codes. Default: `${prefix}user_totp`. */
  userTotp?: string
  /** Recent proofs of identity, by credential. Default: `${prefix}step_up_proofs`. */
  stepUpProofs?: string
  /** Passkeys (WebAuthn credentials). Default: `${prefix}passkeys`. */
  passkeys?: string
  /** Passkey challenges until used. Default: `${prefix}passkey_challenges`. */
  passkeyChallenges?: string
}

/** Every name fastify-users uses in the database, after defaults and checks. */
export interface TableNames extends Readonly<Record<TableKey, string>> {
  /** Records the built-in migrations that ran. Default: `fastify_users_migration`. */
  readonly migration: string
  /** The lock of that record. Default: `fastify_users_migration_lock`. */
  readonly migrationLock: string
  /** Records the application's own migrations (its custom user columns). */
  readonly appMigration: string
  /** The lock of that record. */
  readonly appMigrationLock: string
}

/** PostgreSQL truncates longer identifiers (silently, so two could collide); MySQL allows 64. */
const MAX_IDENTIFIER_LENGTH = 63
/** Unquoted-safe on every database, and lower-case so that no server folds or compares it differently. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

/**
 * The name of an index or constraint of `table`: `fu_<table>_<suffix>`, so renaming a table renames its
 * indexes, and the defaults give exactly the names of earlier versions.
 *
 * @example
 * ```ts
 * indexName('auth_users', 'email_uq') // 'fu_auth_users_email_uq'
 * ```
 */
export function indexName(table: string, suffix: string): string {
  return `fu_${table}_${suffix}`
}

/**
 * The indexes and constraints the migrations name, by table. MySQL names each foreign key
 * `<table>_ibfk_<n>` itself; those count too, since they must fit as well.
 */
const DERIVED_SUFFIXES: Readonly<Record<TableKey, readonly string[]>> = {
  users: ['email_uq', 'username_uq', 'created_at_idx'],
  roles: ['name_uq'],
  userRoles: ['pk', 'role_idx'],
  sessions: ['user_idx', 'expires_idx'],
  revokedTokens: ['expires_idx'],
  loginAttempts: ['last_failure_idx'],
  mailCap: ['window_idx'],
  oauthAccounts: ['pk', 'user_idx'],
  refreshTokens: ['family_idx', 'user_idx', 'expires_idx'],
  userTotp: [],
  stepUpProofs: ['expires_idx'],
  passkeys: ['user_idx'],
  passkeyChallenges: ['expires_idx'],
}
const MYSQL_FOREIGN_KEYS: ReadonlyArray<[TableKey, number]> = [
  ['userRoles', 2],
  ['sessions', 1],
  ['oauthAccounts', 1],
  ['userTotp', 1],
  ['passkeys', 1],
]

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

/**
 * Resolves and checks the table names: defaults, prefix, identifier charset, lengths (of the tables and of
 * every index and constraint name derived from them) and uniqueness.
 *
 * @param option - see {@link TableNamesOption}; `undefined` gives the default names.
 * @param optionName - how the caller's users spell the option, for error messages. Default: `'tables'`.
 * @returns every name, frozen.
 * @throws TypeError naming the offending option and the rule it breaks.
 *
 * @example
 * ```ts
 * const names = resolveTableNames({ prefix: 'auth_' })
 * names.users // 'auth_users'
 * names.migration // 'auth_fastify_users_migration'
 * ```
 */
export function resolveTableNames(option?: TableNamesOption, optionName = 'tables'): TableNames {
  if (option === undefined || option === null) option = {}
  if (typeof option !== 'object' || Array.isArray(option)) {
    fail(optionName, "must be an object such as { prefix: 'auth_' }")
  }
  const allowed = new Set<string>(['prefix', ...Object.keys(DEFAULT_TABLES)])
  for (const key of Object.keys(option)) {
    if (!allowed.has(key)) {
      fail(`${optionName}.${key}`, `is unknown: expected ${[...allowed].join(', ')}`)
    }
  }
  const prefix = option.prefix ?? ''
  if (typeof prefix !== 'string' || (prefix !== '' && !IDENTIFIER.test(prefix))) {
    fail(
      `${optionName}.prefix`,
      `must be lower-case letters, digits and _, starting with a letter or _ (got ${JSON.stringify(prefix)})`,
    )
  }
  const tables = {} as Record<TableKey, string>
  for (const key of Object.keys(DEFAULT_TABLES) as TableKey[]) {
    const given: unknown = option[key]
    if (given === undefined) {
      tables[key] = prefix + DEFAULT_TABLES[key]
      continue
    }
    if (typeof given !== 'string' || !IDENTIFIER.test(given)) {
      fail(
        `${optionName}.${key}`,
        `must be a table name of lower-case letters, digits and _, starting with a letter or _ (got ${JSON.stringify(given)})`,
      )
    }
    tables[key] = given
  }
  const names: TableNames = {
    ...tables,
    migration: `${prefix}fastify_users_migration`,
    migrationLock: `${prefix}fastify_users_migration_lock`,
    appMigration: `${prefix}fastify_users_app_migration`,
    appMigrationLock: `${prefix}fastify_users_app_migration_lock`,
  }

  // Each derived name is checked with the option it comes from, so the message says what to shorten.
  const derived: Array<[name: string, source: string]> = []
  for (const key of Object.keys(DEFAULT_TABLES) as TableKey[]) {
    const source = option[key] === undefined ? `${optionName}.prefix` : `${optionName}.${key}`
    derived.push([tables[key], source])
    for (const suffix of DERIVED_SUFFIXES[key]) derived.push([indexName(tables[key], suffix), source])
  }
  for (const [key, count] of MYSQL_FOREIGN_KEYS) {
    const source = option[key] === undefined ? `${optionName}.prefix` : `${optionName}.${key}`
    derived.push([`${tables[key]}_ibfk_${count}`, source])
  }
  derived.push([names.appMigrationLock, `${optionName}.prefix`])
  for (const [name, source] of derived) {
    if (name.length > MAX_IDENTIFIER_LENGTH) {
      fail(
        source,
        `gives the name "${name}" (${name.length} characters); database identifiers are limited to ${MAX_IDENTIFIER_LENGTH}: choose a shorter name`,
      )
    }
  }

  const seen = new Map<string, string>()
  for (const [key, name] of Object.entries(names)) {
    const other = seen.get(name)
    if (other !== undefined) fail(optionName, `names two tables "${name}" (${other} and ${key})`)
    seen.set(name, key)
  }
  return Object.freeze(names)
}

/**
 * Whether `names` are the default ones, for which no renaming is needed at all.
 *
 * @example
 * ```ts
 * hasDefaultTableNames(resolveTableNames()) // true
 * hasDefaultTableNames(resolveTableNames({ prefix: 'auth_' })) // false
 * ```
 */
export function hasDefaultTableNames(names: TableNames): boolean {
  return (Object.keys(DEFAULT_TABLES) as TableKey[]).every((key) => names[key] === DEFAULT_TABLES[key])
}

/** Renames the built-in tables wherever a query names them: FROM, JOIN, INTO, qualified columns. */
class TableRenamer extends OperationNodeTransformer {
  readonly #renames: ReadonlyMap<string, string>

  constructor(renames: ReadonlyMap<string, string>) {
    super()
    this.#renames = renames
  }

  protected override transformTable(node: TableNode, queryId?: QueryId): TableNode {
    const table = super.transformTable(node, queryId)
    // The schema, if any, is kept: the repositories never name one, so it comes from the application's
    // own plugins (`db.withSchema('auth')`), and the table is still ours.
    const renamed = this.#renames.get(table.table.identifier.name)
    if (renamed === undefined) return table
    return Object.freeze({
      ...table,
      table: Object.freeze({ ...table.table, identifier: IdentifierNode.create(renamed) }),
    })
  }
}

/** The Kysely plugin behind {@link withTableNames}. */
class TableNamesPlugin implements KyselyPlugin {
  readonly #renamer: TableRenamer

  constructor(renames: ReadonlyMap<string, string>) {
    this.#renamer = new TableRenamer(renames)
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#renamer.transformNode(args.node, args.queryId)
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}

/**
 * A Kysely instance on which queries written with the default table names (`users`, `roles`, ...) run
 * against the configured ones. The repositories are built on it by `createKyselyRepositories`; pass it
 * to a repository's constructor when building one by hand. With the default names it is `db` itself.
 *
 * Only the built-in tables are renamed: a query on any other table is left untouched, and so is raw SQL
 * text (`sql\`...\``), which names tables by itself.
 *
 * @param db - the application's Kysely instance.
 * @param names - from {@link resolveTableNames}.
 * @returns a Kysely instance sharing `db`'s connections.
 *
 * @example
 * ```ts
 * const names = resolveTableNames({ prefix: 'auth_' })
 * const users = new KyselyUserRepository(withTableNames(db, names)) // queries auth_users
 * ```
 */
export function withTableNames<DB>(db: Kysely<DB>, names: TableNames): Kysely<DB> {
  if (hasDefaultTableNames(names)) return db
  const renames = new Map<string, string>()
  for (const key of Object.keys(DEFAULT_TABLES) as TableKey[]) {
    if (names[key] !== DEFAULT_TABLES[key]) renames.set(DEFAULT_TABLES[key], names[key])
  }
  return db.withPlugin(new TableNamesPlugin(renames))
}
