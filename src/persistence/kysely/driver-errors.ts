/**
 * Driver errors that mean "the database cannot be reached right now", and driver errors that mean "this
 * value cannot be stored", turned into the core's errors. The only place that knows the drivers' codes for
 * them: the core and the HTTP layer see a `DatabaseUnavailableError` (503) or a `ValidationError` (400),
 * never a SQLSTATE or an errno.
 *
 * @module
 */
import { DatabaseUnavailableError, ValidationError } from '../../kernel/errors.js'

interface DriverError {
  code?: unknown
  errno?: unknown
  message?: unknown
}

/** Socket-level failures, the same in `pg` and `mysql2` (Node's own codes). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTCONN',
])

/**
 * PostgreSQL SQLSTATEs of an unavailable server: class 08 (connection exception) is matched by prefix;
 * 57P01 admin shutdown (also `pg_terminate_backend`), 57P02 crash shutdown, 57P03 cannot connect now (the
 * server is starting or stopping), 53300 too many connections.
 */
const POSTGRES_STATES = new Set(['57P01', '57P02', '57P03', '53300'])

/**
 * mysql2 codes: the connection was lost, the pool or the server refused a new one, or the server is
 * shutting down. 1927 is MariaDB's "Connection was killed" (`KILL CONNECTION`), 1053 server shutdown,
 * 1040 too many connections, 2006/2013 "server has gone away" / "lost connection during query".
 */
const MYSQL_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
  'POOL_CLOSED',
])
const MYSQL_ERRNOS = new Set([1040, 1053, 1927, 2006, 2013])

/**
 * Messages of errors that carry no code. `pg` and `pg-pool` throw plain `Error`s when the socket ends
 * ("Connection terminated unexpectedly"), on a connect timeout, or when a broken client is used again;
 * mysql2 says "Pool is closed" or "Connection lost" in some paths.
 */
const MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /^Client has encountered a connection error and is not queryable/i,
  /^Client was closed and is not queryable/i,
  /^Cannot use a pool after calling end on the pool/i,
  /^Pool is closed/i,
  /^Connection lost/i,
  /^Can't add new command when connection is in closed state/i,
  /^read ECONNRESET/i,
]

/**
 * Whether a driver error means that the database cannot be reached right now (as opposed to a bad query
 * or a broken constraint): the kind of error a retry a moment later may not get.
 *
 * @param err - anything thrown by `pg`, `mysql2`, `better-sqlite3` or their pools.
 * @returns `true` for connection refused, reset or lost; server shutting down or restarting; too many
 *   connections; pool or connect timeouts; and SQLite's `SQLITE_BUSY` (still locked after the busy timeout).
 *
 * @example
 * ```ts
 * isUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })) // true
 * isUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' })) // false
 * ```
 */
export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const e = err as DriverError
  const code = typeof e.code === 'string' ? e.code : ''
  if (SOCKET_CODES.has(code)) return true
  if (/^08[0-9A-Z]{3}$/.test(code) || POSTGRES_STATES.has(code)) return true
  if (MYSQL_CODES.has(code) || (typeof e.errno === 'number' && MYSQL_ERRNOS.has(e.errno))) return true
  // SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT...), SQLITE_LOCKED too.
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true
  const message = typeof e.message === 'string' ? e.message : ''
  if (MESSAGES.some((pattern) => pattern.test(message))) return true
  // AggregateError (Node's happy eyeballs, one error per address tried) or a wrapped cause.
  if (Array.isArray((err as { errors?: unknown }).errors)) {
    return (err as { errors: unknown[] }).errors.some(isUnavailable)
  }
  return false
}

/**
 * Whether the database refused a value it cannot store in a text column: PostgreSQL's 22021 (a NUL byte,
 * or bytes that are no UTF-8) and 22P05 (untranslatable character). The core refuses such values before
 * they reach a query; this is the net under it for a path that forgot.
 */
function isUnstorableText(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const code = (err as DriverError).code
  return code === '22021' || code === '22P05'
}

/**
 * Turns a driver error into the core's error for it, or returns it unchanged: unavailable databases
 * become {@link DatabaseUnavailableError}, text a database cannot store becomes a `ValidationError`.
 * Everything else (constraint violations included, which the repositories translate themselves) passes
 * through.
 *
 * @example
 * ```ts
 * try {
 *   return await connection.executeQuery(query)
 * } catch (err) {
 *   throw translateDriverError(err)
 * }
 * ```
 */
export function translateDriverError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailableError || err instanceof ValidationError) return err
  if (isUnavailable(err)) return new DatabaseUnavailableError({ cause: err })
  if (isUnstorableText(err)) {
    const e = new ValidationError('(value)', 'a value contains characters that cannot be stored')
    return Object.assign(e, { cause: err })
  }
  return err
}
