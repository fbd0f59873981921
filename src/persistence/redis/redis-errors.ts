/**
 * What a Redis failure means to the service: an unreachable, restarting, full or read-only server, or one
 * whose keys under the plugin's prefix are not the plugin's, is a `DatabaseUnavailableError` (HTTP 503 with
 * `Retry-After`), exactly like an unreachable SQL database, so the HTTP layer never answers 500 for a
 * storage fault and never looks at an ioredis error. Every Redis store goes through {@link guarded} (one
 * command or script) or {@link execGuarded} (a pipeline or a `MULTI`, whose errors come back per command
 * instead of being thrown).
 *
 * @module
 */
import { DatabaseUnavailableError } from '../../kernel/errors.js'

// Replies of a server that is there but cannot serve us right now. Retrying later is right for most
// (loading its data set, a replica, a busy script, out of memory, snapshots failing so writes are
// refused); the others are the store's state, not the request's or the library's: a password or ACL
// that no longer lets us in (NOAUTH, NOPERM, WRONGPASS), or a key under our prefix holding another type
// (WRONGTYPE: something else writes under the same prefix). The operator gets a warning naming the reply.
const UNAVAILABLE_REPLIES =
  'LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM|MISCONF|NOAUTH|NOPERM|WRONGPASS|WRONGTYPE'
// Redis 7 keeps the reply's code at the start of a script's error; Redis 6 wraps it as
// "ERR Error running script (call to f_...): @user_script:2: WRONGTYPE ...".
const UNAVAILABLE_REPLY = new RegExp(`^(?:ERR Error running script\\b.*?: )?(?:${UNAVAILABLE_REPLIES})\\b`)

/**
 * Whether an ioredis error means the server cannot be reached or cannot serve now (rather than a wrong
 * command, which is a bug and stays a 500).
 *
 * @example
 * ```ts
 * isRedisUnavailable(new Error("Stream isn't writeable and enableOfflineQueue options is false")) // true
 * ```
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err instanceof DatabaseUnavailableError) return true
  // ioredis' ReplyError is a server's answer to a command; anything else (connection closed, offline
  // queue off, retries used up, a timeout) is the connection's.
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message)
  return true
}

/**
 * An ioredis error as the service should see it: a `DatabaseUnavailableError` (with the error as its
 * `cause`) when {@link isRedisUnavailable}, the error unchanged otherwise.
 *
 * @example
 * ```ts
 * throw translateRedisError(new Error('Connection is closed.')) // a DatabaseUnavailableError
 * ```
 */
export function translateRedisError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailableError) return err
  return isRedisUnavailable(err) ? new DatabaseUnavailableError({ cause: err }) : err
}

/**
 * Runs a Redis call and turns an outage into a `DatabaseUnavailableError`.
 *
 * @throws DatabaseUnavailableError when Redis is unreachable; any other error as it is.
 * @example
 * ```ts
 * const value = await guarded(() => client.get(key))
 * ```
 */
export async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw translateRedisError(err)
  }
}

/** What {@link execGuarded} needs of an ioredis `Pipeline` or `ChainableCommander` (`multi()`). */
export interface ExecutableBatch {
  exec(): Promise<[error: Error | null, result: unknown][] | null>
}

/**
 * Sends a pipeline (or a `MULTI`) and returns the replies in order. ioredis' `exec()` does not throw for
 * a failed command: it answers `[error, reply]` pairs (every one of them an error when the connection is
 * closed); the first error found is thrown here, translated like {@link guarded}'s. A transaction aborted
 * by a `WATCH` (ioredis answers `null`) gives `null`.
 *
 * @throws DatabaseUnavailableError when Redis is unreachable or a command met an unavailable server;
 *   another command error as it is.
 * @example
 * ```ts
 * const pipeline = client.pipeline()
 * for (const key of keys) pipeline.hmget(key, 'd', 's')
 * const replies = (await execGuarded(pipeline)) ?? []
 * ```
 */
export async function execGuarded(batch: ExecutableBatch): Promise<unknown[] | null> {
  const results = await guarded(() => batch.exec())
  if (results === null) return null
  return results.map(([error, reply]) => {
    if (error) throw translateRedisError(error)
    return reply
  })
}
