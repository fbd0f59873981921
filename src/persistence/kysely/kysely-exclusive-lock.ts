/**
 * The SQL implementation of the core's `ExclusiveLock`, used to serialise admin removals across every
 * instance that shares the database: a session-level advisory lock on PostgreSQL (`pg_advisory_lock`),
 * a named lock on MySQL/MariaDB (`GET_LOCK`), and an in-process lock on SQLite, whose single connection
 * already serialises writers within a process.
 *
 * @module
 */
import { sql } from 'kysely'
import { type ExclusiveLock, InProcessLock } from '../../core/admin-guard.js'
import { type DatabaseDialect, detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'

/** The PostgreSQL advisory lock key (a fixed 64-bit number: "fu-admin" in ASCII). */
const PG_KEY = 0x66752d61646d696en
/**
 * MySQL named locks are server-wide: the name carries a hash of the database's name, so that two
 * applications (or two test databases) on one server do not wait for each other.
 */
const MYSQL_NAME = sql`concat('fastify_users_admin:', md5(database()))`
const MYSQL_TIMEOUT_SECONDS = 10

/**
 * One named lock in the database, held on a dedicated connection while `fn` runs on the pool's others.
 * Calls in one process queue in memory first, so a burst holds one connection, not one per call. The
 * pool needs at least two connections (one holds the lock, `fn` queries on another).
 *
 * @example
 * ```ts
 * const lock = createKyselyRepositories(db).adminLock
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) })
 * ```
 */
export class KyselyExclusiveLock implements ExclusiveLock {
  readonly #db: DynamicDb
  readonly #dialect: DatabaseDialect
  readonly #local = new InProcessLock()

  constructor(db: DynamicDb) {
    this.#db = db
    this.#dialect = detectDialect(db)
  }

  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#dialect === 'sqlite') return this.#local.runExclusive(fn)
    return this.#local.runExclusive(() =>
      this.#db.connection().execute(async (conn) => {
        if (this.#dialect === 'postgres') {
          await sql`select pg_advisory_lock(${sql.lit(PG_KEY.toString())}::bigint)`.execute(conn)
          try {
            return await fn()
          } finally {
            await sql`select pg_advisory_unlock(${sql.lit(PG_KEY.toString())}::bigint)`.execute(conn)
          }
        }
        const got = await sql<{
          got: number | null
        }>`select get_lock(${MYSQL_NAME}, ${MYSQL_TIMEOUT_SECONDS}) as got`.execute(conn)
        if (Number(got.rows[0]?.got) !== 1) throw new Error('fastify-users: could not take the admin lock')
        try {
          return await fn()
        } finally {
          await sql`select release_lock(${MYSQL_NAME})`.execute(conn)
        }
      }),
    )
  }
}
