/**
 * Sessions in Redis: one hash per session, which expires at the session's absolute end, and one sorted set
 * per user (the session ids by their end), so that "end every session of this user" is one atomic script.
 *
 * @module
 */
import type { Redis } from 'ioredis'
import type { SessionRecord, SessionRepository } from '../../core/repositories.js'
import type { Id } from '../../core/user.js'
import { execGuarded, guarded } from './redis-errors.js'
import { RedisScript } from './redis-script.js'

// KEYS: session, user index. ARGV: record (JSON, without lastSeenAt), lastSeenAt, ttl ms, expiresAt, id,
// createdAt, most sessions per user, session key prefix.
const CREATE = new RedisScript(`
redis.call('HSET', KEYS[1], 'd', ARGV[1], 's', ARGV[2], 'x', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7])
if over > 0 then
  for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do redis.call('DEL', ARGV[8] .. sid) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1`)

// KEYS: session. ARGV: lastSeenAt. Never recreates a deleted or expired session.
const TOUCH = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
return 1`)

// KEYS: session. ARGV: id.
const DELETE = new RedisScript(`
local index = redis.call('HGET', KEYS[1], 'x')
if not index then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', index, ARGV[1])
return 1`)

// KEYS: user index. ARGV: session key prefix.
const DELETE_FOR_USER = new RedisScript(`
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do n = n + redis.call('DEL', ARGV[1] .. sid) end
redis.call('DEL', KEYS[1])
return n`)

/** Options of {@link RedisSessionRepository}. */
export interface RedisSessionRepositoryOptions {
  /** Prepended to every key. Default: `'fastify-users:'`. */
  prefix?: string
  /**
   * Most live sessions one user may hold; a new session beyond it ends the one closest to its end, so the
   * per-user index stays bounded. Default: `1000`.
   */
  maxSessionsPerUser?: number
}

type StoredRecord = Omit<SessionRecord, 'lastSeenAt'>

/**
 * A {@link SessionRepository} on Redis. Keys: `<prefix>session:<id>` (a hash, expiring at the session's
 * absolute end) and `<prefix>user-sessions:<userId>` (a sorted set of that user's session ids by their end,
 * expiring with the last of them). Expired sessions go by themselves, so `deleteExpired` returns `0`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * const sessions = new RedisSessionRepository(new Redis('redis://127.0.0.1:6379'), { prefix: 'myapp:' })
 * await sessions.deleteForUser(user.id) // every session of the user, on every instance
 * ```
 */
export class RedisSessionRepository implements SessionRepository {
  readonly #client: Redis
  readonly #sessionPrefix: string
  readonly #indexPrefix: string
  readonly #maxPerUser: number

  constructor(client: Redis, options: RedisSessionRepositoryOptions = {}) {
    const prefix = options.prefix ?? 'fastify-users:'
    const max = options.maxSessionsPerUser ?? 1000
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError('fastify-users: `maxSessionsPerUser` must be a positive integer')
    }
    this.#client = client
    this.#sessionPrefix = `${prefix}session:`
    this.#indexPrefix = `${prefix}user-sessions:`
    this.#maxPerUser = max
  }

  #indexKey(userId: Id): string {
    return `${this.#indexPrefix}${String(userId)}`
  }

  async create(record: SessionRecord): Promise<void> {
    const { lastSeenAt, ...stored } = record
    const ttl = Math.max(1, record.expiresAt - record.createdAt)
    await guarded(() =>
      CREATE.run(
        this.#client,
        [this.#sessionPrefix + record.id, this.#indexKey(record.userId)],
        [
          JSON.stringify(stored satisfies StoredRecord),
          lastSeenAt,
          ttl,
          record.expiresAt,
          record.id,
          record.createdAt,
          this.#maxPerUser,
          this.#sessionPrefix,
        ],
      ),
    )
  }

  async find(id: string): Promise<SessionRecord | null> {
    const fields = await guarded(() => this.#client.hmget(this.#sessionPrefix + id, 'd', 's'))
    const [data, lastSeenAt] = fields
    if (!data || !lastSeenAt) return null
    return { ...(JSON.parse(data) as StoredRecord), lastSeenAt: Number(lastSeenAt) }
  }

  async listForUser(userId: Id): Promise<SessionRecord[]> {
    // The index is bounded (`maxSessionsPerUser`); ids whose session has expired meanwhile read as null.
    const ids = await guarded(() => this.#client.zrange(this.#indexKey(userId), 0, -1))
    if (ids.length === 0) return []
    const pipeline = this.#client.pipeline()
    for (const id of ids) pipeline.hmget(this.#sessionPrefix + id, 'd', 's')
    const replies = (await execGuarded(pipeline)) ?? []
    const records: SessionRecord[] = []
    for (const fields of replies) {
      const [data, lastSeenAt] = fields as [string | null, string | null]
      if (data && lastSeenAt)
        records.push({ ...(JSON.parse(data) as StoredRecord), lastSeenAt: Number(lastSeenAt) })
    }
    return records
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    await guarded(() => TOUCH.run(this.#client, [this.#sessionPrefix + id], [lastSeenAt]))
  }

  async delete(id: string): Promise<boolean> {
    return (await guarded(() => DELETE.run(this.#client, [this.#sessionPrefix + id], [id]))) === 1
  }

  async deleteForUser(userId: Id): Promise<number> {
    const n = await guarded(() =>
      DELETE_FOR_USER.run(this.#client, [this.#indexKey(userId)], [this.#sessionPrefix]),
    )
    return Number(n)
  }

  /** Redis drops a session when its key's time to live (its absolute end) is reached: nothing to sweep. */
  async deleteExpired(_now: number): Promise<number> {
    return 0
  }
}
