/**
 * What a Redis failure means to the service: an unreachable, restarting or read-only server is a
 * `DatabaseUnavailableError` (HTTP 503 with `Retry-After`), exactly like an unreachable SQL database, so the
 * HTTP layer never answers 500 for an outage and never looks at an ioredis error.
 *
 * @module
 */
import { DatabaseUnavailableError } from '../../kernel/errors.js'

// Replies of a server that is there but cannot serve right now (loading its data set, a replica, a busy
// script): retrying later is right, as for a lost connection.
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/

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
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message)
  return true
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
    if (err instanceof DatabaseUnavailableError) throw err
    if (isRedisUnavailable(err)) throw new DatabaseUnavailableError({ cause: err })
    throw err
  }
}
