/**
 * A Kysely dialect wrapper that makes every driver fault a core error: whatever a connection, a pool or a
 * transaction statement throws goes through `translateDriverError`, so an unreachable database reaches the
 * service as a `DatabaseUnavailableError` (HTTP 503 with `Retry-After`) instead of a driver error (500).
 *
 * On SQLite it also starts every transaction with `BEGIN IMMEDIATE`: a deferred transaction that reads
 * first and writes later cannot upgrade its lock when another process wrote in between, and fails at once
 * with `SQLITE_BUSY` whatever the busy timeout; an immediate one takes the write lock up front, waiting up
 * to the busy timeout for it, so two processes on one file serialise their writes instead of failing them.
 *
 * @module
 */
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import { translateDriverError } from './driver-errors.js'

/** Options of {@link resilientDialect}. */
export interface ResilientDialectOptions {
  /**
   * Start transactions with `BEGIN IMMEDIATE`. Meant for SQLite only (other databases have no such
   * statement).
   *
   * @defaultValue `false`
   */
  immediateTransactions?: boolean
}

async function translated<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    throw translateDriverError(err)
  }
}

class TranslatingConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  constructor(inner: DatabaseConnection) {
    this.inner = inner
  }
  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return translated(() => this.inner.executeQuery<R>(compiledQuery))
  }
  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize)
    } catch (err) {
      throw translateDriverError(err)
    }
  }
}

/** The driver's own connection: Kysely hands ours back, the driver needs its own. */
const unwrap = (connection: DatabaseConnection): DatabaseConnection =>
  connection instanceof TranslatingConnection ? connection.inner : connection

class TranslatingDriver implements Driver {
  readonly #inner: Driver
  readonly #immediate: boolean
  constructor(inner: Driver, immediate: boolean) {
    this.#inner = inner
    this.#immediate = immediate
  }
  init(): Promise<void> {
    return translated(() => this.#inner.init())
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new TranslatingConnection(await translated(() => this.#inner.acquireConnection()))
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (this.#immediate) {
      return translated(async () => {
        await unwrap(connection).executeQuery(CompiledQuery.raw('begin immediate'))
      })
    }
    return translated(() => this.#inner.beginTransaction(unwrap(connection), settings))
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return translated(() => this.#inner.commitTransaction(unwrap(connection)))
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return translated(() => this.#inner.rollbackTransaction(unwrap(connection)))
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(connection))
  }
  destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

function withSavepoints(driver: TranslatingDriver, inner: Driver): Driver {
  // Savepoints are optional in the Driver interface; forward them only when the inner driver has them.
  const forward =
    (name: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint') =>
    (
      connection: DatabaseConnection,
      savepoint: string,
      compile: Parameters<NonNullable<Driver['savepoint']>>[2],
    ) =>
      translated(() => inner[name]!.call(inner, unwrap(connection), savepoint, compile))
  const extra: Partial<Driver> = {}
  if (inner.savepoint) extra.savepoint = forward('savepoint')
  if (inner.rollbackToSavepoint) extra.rollbackToSavepoint = forward('rollbackToSavepoint')
  if (inner.releaseSavepoint) extra.releaseSavepoint = forward('releaseSavepoint')
  return Object.assign(driver, extra)
}

/**
 * Wraps a Kysely dialect so that driver faults become the core's errors (see the module comment).
 * `connectDatabase` applies it to every database it opens; an application that builds its own Kysely
 * instance wraps its dialect the same way to get 503 answers during an outage.
 *
 * @param dialect - a `SqliteDialect`, `PostgresDialect` or `MysqlDialect` (or one built on them).
 * @param options - see {@link ResilientDialectOptions}.
 * @returns a dialect with the same adapter, compiler and introspector.
 *
 * @example
 * ```ts
 * import { Kysely, PostgresDialect } from 'kysely'
 * import { resilientDialect } from 'fastify-users/kysely'
 *
 * const db = new Kysely<Database>({ dialect: resilientDialect(new PostgresDialect({ pool })) })
 * ```
 */
export function resilientDialect(dialect: Dialect, options: ResilientDialectOptions = {}): Dialect {
  const immediate = options.immediateTransactions ?? false
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => {
      const inner = dialect.createDriver()
      return withSavepoints(new TranslatingDriver(inner, immediate), inner)
    },
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  }
}
