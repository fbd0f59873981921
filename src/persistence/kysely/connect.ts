/**
 * Turns a `DATABASE_URL` into a ready {@link Kysely} instance. The plugin, the demo, the CLI and the test
 * helpers all go through {@link connectDatabase}, so every entry point accepts exactly the same URL forms
 * and configures the drivers the same way (foreign keys on in SQLite, UTC in MySQL, ...).
 *
 * The drivers (`better-sqlite3`, `pg`, `mysql2`) are optional peer dependencies: each is loaded with a
 * dynamic `import()` only when a URL of its scheme is used, so an app on PostgreSQL never needs a native
 * SQLite build.
 *
 * @module
 */

import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  MysqlAdapter,
  MysqlDialect,
  PostgresAdapter,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  sql,
} from 'kysely'
import { isUnavailable } from './driver-errors.js'
import { resilientDialect } from './resilient-dialect.js'

/** The SQL dialects fastify-users supports. */
export type DatabaseDialect = 'sqlite' | 'postgres' | 'mysql'

/** Options of {@link connectDatabase}. */
export interface ConnectOptions {
  /**
   * Maximum number of pooled connections for PostgreSQL and MySQL/MariaDB.
   * Ignored for SQLite, which Kysely drives through a single connection.
   *
   * @defaultValue `10` (the default of both `pg` and `mysql2`)
   */
  poolSize?: number
  /**
   * How long to keep trying when the database cannot be reached at start (connection refused, server
   * starting up...), in milliseconds; then {@link connectDatabase} gives up with an error naming the URL
   * and the last reason. Errors that waiting cannot fix (a wrong password, an unknown database) fail at
   * once. `0` tries exactly once.
   *
   * @defaultValue `30000`
   */
  connectTimeoutMs?: number
}

/** A Kysely instance together with what {@link connectDatabase} learned from the URL. */
export interface ConnectedDatabase<DB> {
  /** The query builder. Call `db.destroy()` to close the pool (and the SQLite file) on shutdown. */
  db: Kysely<DB>
  /** Which dialect the URL selected. */
  dialect: DatabaseDialect
  /** The URL with any password replaced by `***`: safe to print in logs and error messages. */
  url: string
}

/** Named in every "unknown URL" error so the user sees all the forms at once. */
const ACCEPTED_FORMS =
  'sqlite:relative/path.db, sqlite:///absolute/path.db, sqlite::memory:, postgres://..., postgresql://..., ' +
  'mysql://... or mariadb://...'

const DEFAULT_POOL_SIZE = 10
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
/** Bounds a new connection's handshake, so an unreachable host answers 503 in seconds, not minutes. */
const CONNECTION_TIMEOUT_MS = 5_000
/** SQLite waits this long for another process's write lock before giving up with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000

/**
 * Connects to the database a URL names and checks that it answers (`select 1`), so a wrong URL fails at
 * startup with a clear message instead of at the first request. A database that cannot be reached yet
 * (refused, restarting) is retried for `connectTimeoutMs` (30 s by default) before that error.
 *
 * Driver faults never crash the process and never leak driver codes: the pools' and connections' `error`
 * events are handled, and every query error that means "unreachable" becomes a `DatabaseUnavailableError`
 * (HTTP 503 with `Retry-After`); the pools open fresh connections once the server answers again.
 *
 * Accepted URL forms:
 * - `sqlite:relative/or/absolute/path.db` (relative to the working directory), `sqlite:///abs/path.db`,
 *   `sqlite::memory:`. The parent directory of a file is created. Every connection runs with
 *   `foreign_keys = ON` (the schema relies on `ON DELETE CASCADE`), `busy_timeout = 5000` and, for files,
 *   `journal_mode = WAL` (readers do not block the writer). Transactions start with `BEGIN IMMEDIATE`, so
 *   several processes on one file wait for each other's writes instead of failing with `SQLITE_BUSY`.
 * - `postgres://` or `postgresql://`: a `pg` Pool. Global `pg` type parsers are left alone, so `int8`
 *   columns (and `count(*)`) come back as strings; callers convert.
 * - `mysql://` or `mariadb://`: a `mysql2` pool with `timezone: 'Z'` (dates are stored and read as UTC,
 *   whatever the server's zone) and `supportBigNumbers: true, bigNumberStrings: false` (BIGINTs are numbers
 *   when they fit, strings beyond 2^53).
 *
 * Query-string parameters of PostgreSQL and MySQL URLs are passed to the driver (e.g. `?sslmode=require`).
 *
 * @param url - the database URL, typically `process.env.DATABASE_URL`.
 * @param options - see {@link ConnectOptions}.
 * @returns the Kysely instance, its dialect and the URL with the password masked.
 * @throws TypeError if the URL has none of the accepted forms.
 * @throws Error if the driver package is not installed (the message says which one to install) or the
 *   database cannot be reached.
 *
 * @example
 * ```ts
 * import { connectDatabase } from 'fastify-users/kysely'
 *
 * const { db, dialect, url } = await connectDatabase<Database>(
 *   process.env.DATABASE_URL ?? 'sqlite:data/app.db',
 *   { poolSize: 20, connectTimeoutMs: 60_000 },
 * )
 * console.log(`using ${dialect} at ${url}`)
 * // ...
 * await db.destroy()
 * ```
 */
export async function connectDatabase<DB>(
  url: string,
  options: ConnectOptions = {},
): Promise<ConnectedDatabase<DB>> {
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new TypeError(`poolSize must be a positive integer, got ${String(options.poolSize)}`)
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs < 0) {
    throw new TypeError(
      `connectTimeoutMs must be a non-negative number of milliseconds, got ${String(options.connectTimeoutMs)}`,
    )
  }
  const masked = maskUrl(url)
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()

  let db: Kysely<DB>
  let dialect: DatabaseDialect
  switch (scheme) {
    case 'sqlite':
      dialect = 'sqlite'
      db = await connectSqlite<DB>(url)
      break
    case 'postgres':
    case 'postgresql':
      dialect = 'postgres'
      db = await connectPostgres<DB>(url, poolSize)
      break
    case 'mysql':
    case 'mariadb':
      dialect = 'mysql'
      db = await connectMysql<DB>(url, poolSize)
      break
    default:
      throw new TypeError(`Unsupported database URL "${masked}": expected ${ACCEPTED_FORMS}`)
  }

  try {
    await untilReachable(db, connectTimeoutMs)
  } catch (error) {
    // Close the pool we just opened: the caller gets no handle to do it, and open sockets would keep the
    // process alive after the error.
    await db.destroy().catch(() => {})
    const cause = (error as { cause?: unknown }).cause ?? error
    const reason =
      cause instanceof Error ? cause.message || String((cause as { code?: unknown }).code) : String(cause)
    const waited = isUnavailable(cause) && connectTimeoutMs > 0 ? ` within ${connectTimeoutMs / 1000} s` : ''
    throw new Error(`Cannot connect to ${masked}${waited}: ${reason}`, { cause })
  }
  return { db, dialect, url: masked }
}

/**
 * Runs `select 1` until it succeeds, retrying errors that mean "not reachable yet" with a growing pause
 * (0.1 s doubling to 2 s) until `timeoutMs` has passed; any other error, or the last one, is thrown.
 */
async function untilReachable<DB>(db: Kysely<DB>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let pause = 100
  for (;;) {
    try {
      await sql`select 1`.execute(db)
      return
    } catch (error) {
      const left = deadline - Date.now()
      if (!isUnavailable((error as { cause?: unknown }).cause ?? error) || left <= 0) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
      pause = Math.min(pause * 2, 2_000)
    }
  }
}

/**
 * Tells which dialect a Kysely instance speaks, from its adapter. For code that receives a Kysely instance
 * the app built itself (rather than a URL) and must pick dialect-specific SQL, such as the migrations.
 *
 * Subclasses count as their base dialect (e.g. a PGlite dialect reuses `PostgresAdapter`, libSQL reuses
 * `SqliteAdapter`).
 *
 * @param db - any Kysely instance or transaction.
 * @returns `'sqlite'`, `'postgres'` or `'mysql'`.
 * @throws TypeError for another dialect (MSSQL, or a custom adapter that extends none of the three).
 *
 * @example
 * ```ts
 * import { detectDialect } from 'fastify-users/kysely'
 *
 * const now = detectDialect(db) === 'sqlite' ? sql`datetime('now')` : sql`current_timestamp`
 * ```
 */
export function detectDialect<DB>(db: Kysely<DB>): DatabaseDialect {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  if (adapter instanceof PostgresAdapter) return 'postgres'
  if (adapter instanceof MysqlAdapter) return 'mysql'
  // instanceof fails when the app and this library resolve two copies of kysely (e.g. a linked checkout),
  // so fall back to the class names along the prototype chain.
  for (let proto: unknown = Object.getPrototypeOf(adapter); proto; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name
    if (name === 'SqliteAdapter') return 'sqlite'
    if (name === 'PostgresAdapter') return 'postgres'
    if (name === 'MysqlAdapter') return 'mysql'
  }
  throw new TypeError(
    `Unsupported Kysely dialect (adapter ${adapter.constructor.name}): fastify-users supports SQLite, PostgreSQL and MySQL/MariaDB`,
  )
}

/** Replaces the password of a URL with `***`; URLs without one (and `sqlite:` paths) come back unchanged. */
function maskUrl(url: string): string {
  if (!URL.canParse(url)) return url
  const parsed = new URL(url)
  if (parsed.password === '') return url
  parsed.password = '***'
  return parsed.toString()
}

/** Maps `sqlite:` URLs to what better-sqlite3 opens: a path or `:memory:`. */
function sqliteFilename(url: string): string {
  const rest = url.slice('sqlite:'.length)
  if (rest === ':memory:' || rest === '//:memory:') return ':memory:'
  if (rest.startsWith('///')) return rest.slice(2)
  // `sqlite://name.db` would read as a host name in URL syntax; refuse it rather than guess.
  if (rest.startsWith('//')) {
    throw new TypeError(
      `Unsupported SQLite URL "${url}": use sqlite:relative/path.db or sqlite:///absolute/path.db`,
    )
  }
  if (rest === '') throw new TypeError(`SQLite URL "${url}" names no file: expected ${ACCEPTED_FORMS}`)
  return rest
}

async function connectSqlite<DB>(url: string): Promise<Kysely<DB>> {
  const filename = sqliteFilename(url)
  const { default: Database } = await importDriver(() => import('better-sqlite3'), 'better-sqlite3', '12')
  const inMemory = filename === ':memory:'
  if (!inMemory) mkdirSync(dirname(resolve(filename)), { recursive: true })
  const database = new Database(filename, { timeout: SQLITE_BUSY_TIMEOUT_MS })
  try {
    // Per-connection settings: SQLite does not persist foreign_keys or busy_timeout in the file.
    database.pragma('foreign_keys = ON')
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
    if (!inMemory) {
      database.pragma('journal_mode = WAL')
      // With WAL, NORMAL cannot corrupt the database; a power cut may lose the last commits, and in
      // exchange a commit no longer waits for an fsync on the event loop (0.34 ms -> 0.02 ms here).
      database.pragma('synchronous = NORMAL')
    }
  } catch (error) {
    database.close()
    throw error
  }
  return new Kysely<DB>({
    dialect: resilientDialect(new SqliteDialect({ database: withStatementCache(database) }), {
      immediateTransactions: true,
    }),
  })
}

/** Statements kept per connection: more than the library's distinct queries, few enough to stay small. */
const STATEMENT_CACHE_SIZE = 256

interface SqliteStatementLike {
  readonly reader: boolean
}

/**
 * Kysely prepares every statement anew, which is a sixth of a session check's CPU on SQLite. The one
 * connection is driven by one query at a time, so a prepared statement can be reused safely; SQLite
 * recompiles it by itself if the schema changes under it.
 */
function withStatementCache<
  S extends SqliteStatementLike,
  D extends { prepare(sql: string): S; close(): unknown },
>(database: D): D {
  const statements = new Map<string, S>()
  const prepare = (sql: string): S => {
    let statement = statements.get(sql)
    if (statement) {
      // Refresh its place: the cache evicts the least recently used statement first.
      statements.delete(sql)
    } else {
      statement = database.prepare(sql)
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string)
    }
    statements.set(sql, statement)
    return statement
  }
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property === 'prepare') return prepare
      const value = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function connectPostgres<DB>(url: string, poolSize: number): Promise<Kysely<DB>> {
  const { Pool } = await importDriver(() => import('pg'), 'pg', '8')
  const pool = new Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
  })
  // An idle client whose connection dies (server restart, pg_terminate_backend) makes the pool emit
  // 'error'; without a listener that crashes the process. The pool already discards the client and the
  // next query opens a fresh connection, so there is nothing else to do here.
  pool.on('error', () => {})
  // A client checked out of the pool (between Kysely's acquire and release) has no pool listener: when its
  // socket ends it emits 'error' on itself, and an unheard 'error' event kills the process. The query in
  // flight is rejected with the same error (and becomes a 503); the broken client is not queryable any
  // more, so the pool drops it on release instead of reusing it.
  pool.on('connect', (client) => {
    client.on('error', () => {})
  })
  return new Kysely<DB>({ dialect: resilientDialect(new PostgresDialect({ pool })) })
}

async function connectMysql<DB>(url: string, poolSize: number): Promise<Kysely<DB>> {
  const { createPool } = await importDriver(() => import('mysql2'), 'mysql2', '3')
  // mysql2 reads host, port, user, password, database and query options from the URL; its parser ignores
  // the scheme, but normalise `mariadb:` anyway so nothing downstream trips over it.
  const uri = url.replace(/^mariadb:/i, 'mysql:')
  const pool = createPool({
    uri,
    connectionLimit: poolSize,
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
    connectTimeout: CONNECTION_TIMEOUT_MS,
  })
  // mysql2's pool removes a broken connection on its first 'error' only (a `once` listener); a second
  // event, or one on the pool, would be unheard and kill the process. The query in flight gets the error.
  pool.on('connection', (connection) => {
    connection.on('error', () => {})
  })
  pool.on('error', () => {})
  return new Kysely<DB>({
    dialect: resilientDialect(
      new MysqlDialect({
        pool,
        // timezone: 'Z' only affects how mysql2 converts JS dates; the session zone decides what NOW() and
        // CURRENT_TIMESTAMP return, so pin it to UTC too.
        onCreateConnection: async (connection: DatabaseConnection) => {
          await connection.executeQuery(CompiledQuery.raw("set time_zone = '+00:00'"))
        },
      }),
    ),
  })
}

/**
 * Imports a driver, turning "package not found" into an actionable message. Other load errors (a native
 * build for another Node ABI, say) are rethrown untouched: they need a different fix.
 */
async function importDriver<T>(load: () => Promise<T>, name: string, major: string): Promise<T> {
  try {
    return await load()
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    const message = error instanceof Error ? error.message : ''
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${name}'`)) {
      throw new Error(
        `The database driver "${name}" is not installed: run \`npm install ${name}@${major}\` to use this database URL`,
        { cause: error },
      )
    }
    throw error
  }
}
