/**
 * The one place tests get databases. Every suite gets a fresh, empty database of its own (a temp SQLite
 * file, or a `fu_test_<hex>` database created on the PostgreSQL / MariaDB server), so test files can run in
 * parallel and a failed run leaves nothing that breaks the next one.
 *
 * Which servers to use comes from the environment:
 * - `FASTIFY_USERS_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/postgres`
 * - `FASTIFY_USERS_TEST_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`
 * - `FASTIFY_USERS_TEST_REDIS_URL`, e.g. `redis://127.0.0.1:6379`
 *
 * The PostgreSQL and MySQL URLs are admin connections: the user must be allowed to create and drop
 * databases. On a laptop an unset variable skips that suite with a message saying how to enable it. In CI
 * (`CI=true`) nothing is skipped: an unset variable or an unreachable server fails the suite, so a broken
 * service can never turn CI green by silently running fewer tests.
 *
 * @example
 * ```ts
 * for (const { name, skip } of testDialects) {
 *   describe(`users on ${name}`, { skip }, () => {
 *     let database: TestDatabase<Database>
 *     before(async () => { database = await createTestDatabase<Database>(name) })
 *     after(() => database.destroy())
 *     it('...', async () => { await database.db.selectFrom('users').execute() })
 *   })
 * }
 * ```
 *
 * @module
 */

import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kysely, sql } from 'kysely'
import {
  type ConnectedDatabase,
  connectDatabase,
  type DatabaseDialect,
} from '../../src/persistence/kysely/connect.js'

/** `CI=true` (GitHub Actions, .ci/run) or `CI=1` (some other CI systems): run everything, skip nothing. */
export const isCI: boolean = process.env.CI === 'true' || process.env.CI === '1'

const ENV = {
  postgres: 'FASTIFY_USERS_TEST_POSTGRES_URL',
  mysql: 'FASTIFY_USERS_TEST_MYSQL_URL',
  redis: 'FASTIFY_USERS_TEST_REDIS_URL',
} as const

const EXAMPLE = {
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: 'mysql://root@127.0.0.1:3306/test',
  redis: 'redis://127.0.0.1:6379',
} as const

const LABEL = { postgres: 'PostgreSQL', mysql: 'MySQL', redis: 'Redis' } as const

type Server = keyof typeof ENV

/** The `skip` option for node:test: `false` to run, or the reason (shown by the reporter) to skip. */
export type SkipReason = false | string

function envUrl(server: Server): string | undefined {
  const value = process.env[ENV[server]]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function skipFor(server: Server): SkipReason {
  if (envUrl(server) !== undefined || isCI) return false
  return `set ${ENV[server]}=${EXAMPLE[server]} to run the ${LABEL[server]} suite`
}

/** Thrown from inside a suite when CI runs it without its URL: loud, and says what to set. */
function requireUrl(server: Server): string {
  const url = envUrl(server)
  if (url === undefined) {
    throw new Error(
      `${ENV[server]} is not set, so the ${LABEL[server]} suite cannot run. In CI it must not be skipped: ` +
        `export ${ENV[server]}=${EXAMPLE[server]} (see .ci/run)`,
    )
  }
  return url
}

/** A dialect to run a suite against, with the `skip` option to hand to `describe`. */
export interface TestDialect {
  name: DatabaseDialect
  skip: SkipReason
}

/**
 * The dialects every database suite runs against: SQLite always; PostgreSQL and MySQL when their URL is
 * set, or always in CI (where a missing URL then fails the suite instead of skipping it).
 */
export const testDialects: TestDialect[] = [
  { name: 'sqlite', skip: false },
  { name: 'postgres', skip: skipFor('postgres') },
  { name: 'mysql', skip: skipFor('mysql') },
]

/** The Redis suites' `skip` option, by the same rule as {@link testDialects}. */
export const testRedis: { skip: SkipReason } = { skip: skipFor('redis') }

/**
 * The Redis URL from `FASTIFY_USERS_TEST_REDIS_URL`, or `undefined` when unset outside CI (the suite is
 * skipped then). In CI an unset variable throws instead, so a test can never fall back to ioredis' default
 * of localhost and pass by accident.
 */
export function redisTestUrl(): string | undefined {
  return isCI ? requireUrl('redis') : envUrl('redis')
}

/**
 * The admin URL of the PostgreSQL or MySQL server (the one fresh databases are created from), or
 * `undefined` when unset outside CI; in CI an unset variable throws. For tests that inspect the server
 * itself, e.g. that a database is gone.
 */
export function testServerUrl(dialect: 'postgres' | 'mysql'): string | undefined {
  return isCI ? requireUrl(dialect) : envUrl(dialect)
}

/** A fresh database for one suite. */
export interface TestDatabase<DB> {
  /** Connected to the fresh database. Closed by {@link TestDatabase.destroy}. */
  db: Kysely<DB>
  /**
   * A URL {@link connectDatabase} accepts that points at the fresh database: hand it to the plugin or to a
   * CLI subprocess (`DATABASE_URL`) to work on the same data.
   */
  url: string
  dialect: DatabaseDialect
  /** The database name on the server, or the file path for SQLite. */
  name: string
  /** Closes the connections and deletes the database (or file). Safe to call twice. */
  destroy(): Promise<void>
}

/**
 * Creates a fresh, empty, isolated database on the given dialect's server and connects to it.
 *
 * - sqlite: a new file `fu_test_<hex>.db` in `os.tmpdir()` (a file, not `:memory:`, so a subprocess can
 *   open the same database); deleted, with its WAL files, on destroy.
 * - postgres: `CREATE DATABASE fu_test_<hex>` through the admin URL; `DROP DATABASE ... WITH (FORCE)` on
 *   destroy, which also ends connections a test forgot to close.
 * - mysql: `CREATE DATABASE fu_test_<hex>` (utf8mb4); dropped on destroy.
 *
 * @param dialect - which server.
 * @param options - `poolSize` of the connection to the fresh database (default 5: enough for concurrent
 *   requests in a test, small enough that parallel test files stay under the servers' connection limits).
 * @throws Error if the server's URL is not set (only reachable in CI; elsewhere the suite is skipped) or
 *   the server cannot be reached.
 */
export async function createTestDatabase<DB>(
  dialect: DatabaseDialect,
  options: { poolSize?: number } = {},
): Promise<TestDatabase<DB>> {
  const poolSize = options.poolSize ?? 5
  const name = `fu_test_${randomBytes(6).toString('hex')}`
  if (dialect === 'sqlite') return createSqlite<DB>(name)
  const adminUrl = requireUrl(dialect)
  await onServer(adminUrl, async (admin) => {
    if (dialect === 'postgres') {
      await sql`create database ${sql.id(name)}`.execute(admin)
    } else {
      await sql`create database ${sql.id(name)} character set utf8mb4 collate utf8mb4_unicode_ci`.execute(
        admin,
      )
    }
  })

  const parsed = new URL(adminUrl)
  parsed.pathname = `/${name}`
  const url = parsed.toString()
  let connected: ConnectedDatabase<DB>
  try {
    connected = await connectDatabase<DB>(url, { poolSize })
  } catch (error) {
    await dropServerDatabase(adminUrl, dialect, name)
    throw error
  }

  let destroyed = false
  return {
    db: connected.db,
    url,
    dialect,
    name,
    async destroy() {
      if (destroyed) return
      destroyed = true
      await connected.db.destroy()
      await dropServerDatabase(adminUrl, dialect, name)
    },
  }
}

async function createSqlite<DB>(name: string): Promise<TestDatabase<DB>> {
  const file = join(tmpdir(), `${name}.db`)
  const url = `sqlite://${file}`
  const { db } = await connectDatabase<DB>(url)
  let destroyed = false
  return {
    db,
    url,
    dialect: 'sqlite',
    name: file,
    async destroy() {
      if (destroyed) return
      destroyed = true
      await db.destroy()
      await Promise.all([file, `${file}-wal`, `${file}-shm`].map((path) => rm(path, { force: true })))
    },
  }
}

/** Runs statements on the admin database through a short-lived single connection. */
async function onServer(adminUrl: string, run: (admin: Kysely<unknown>) => Promise<void>): Promise<void> {
  const { db } = await connectDatabase<unknown>(adminUrl, { poolSize: 1 })
  try {
    await run(db)
  } finally {
    await db.destroy()
  }
}

async function dropServerDatabase(adminUrl: string, dialect: 'postgres' | 'mysql', name: string) {
  await onServer(adminUrl, async (admin) => {
    if (dialect === 'postgres') {
      // FORCE (PostgreSQL 13+) terminates sessions still connected, e.g. a CLI subprocess a test killed.
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin)
    } else {
      await sql`drop database if exists ${sql.id(name)}`.execute(admin)
    }
  })
}
