/**
 * The counters in Redis: login failures per identifier, mails per kind and address, and the deny-list of
 * logged-out access tokens. Each count is one Lua script, so N concurrent calls count exactly N; each key
 * expires with its window (or its token), so nothing is kept longer than it matters.
 *
 * @module
 */
import type { Redis } from 'ioredis'
import type { MailCapStore } from '../../core/mail-cap.js'
import type {
  LoginAttemptStore,
  LoginFailures,
  LoginReservation,
  TokenDenylist,
} from '../../core/repositories.js'
import { guarded } from './redis-errors.js'
import { RedisScript } from './redis-script.js'

// A key outlives its window by this much, so a failure exactly a window old (which still counts) is found.
const MARGIN_MS = 1000

// KEYS: entry. ARGV: now, window ms, ttl ms.
const RECORD_FAILURE_LUA = `
local last = tonumber(redis.call('HGET', KEYS[1], 't'))
local count
if last == nil or last < tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  count = 1
  redis.call('HSET', KEYS[1], 'c', 1, 't', ARGV[1])
else
  count = redis.call('HINCRBY', KEYS[1], 'c', 1)
  redis.call('HSET', KEYS[1], 't', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])`
const RECORD_FAILURE = new RedisScript(`${RECORD_FAILURE_LUA}
return count`)

// KEYS: pending entry, entry. ARGV: now, in-flight window ms, ttl ms. Counts one more in flight and reads
// the entry's count and last failure. Redis runs a script whole, with nothing in between, so the order of
// the two inside it does not matter; the read comes first so that an error (a key of another type) stops
// the script before it writes anything.
const RESERVE = new RedisScript(`local entry = redis.call('HMGET', KEYS[2], 'c', 't')
${RECORD_FAILURE_LUA}
return {count, entry[1], entry[2]}`)

// KEYS: entry. Never below zero, never creates an entry.
const RELEASE = new RedisScript(`
local count = tonumber(redis.call('HGET', KEYS[1], 'c'))
if count ~= nil and count > 0 then redis.call('HINCRBY', KEYS[1], 'c', -1) end
return 1`)

// KEYS: entry. ARGV: now, window ms.
const HIT = new RedisScript(`
local start = tonumber(redis.call('HGET', KEYS[1], 's'))
if start == nil or start <= tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'c', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'c', 1)`)

/**
 * A {@link LoginAttemptStore} on Redis: `<prefix>login-attempts:<key>`, a hash of the count and the last
 * failure, expiring one window after the last failure.
 *
 * @example
 * ```ts
 * const store = new RedisLoginAttemptStore(client, 'myapp:')
 * await store.recordFailure(loginAttemptKey('ada@example.com'), Date.now(), 15 * 60_000) // 1
 * ```
 */
export class RedisLoginAttemptStore implements LoginAttemptStore {
  readonly #client: Redis
  readonly #prefix: string

  /** `prefix` is prepended to every key. Default: `'fastify-users:'`. */
  constructor(client: Redis, prefix = 'fastify-users:') {
    this.#client = client
    this.#prefix = `${prefix}login-attempts:`
  }

  async recordFailure(key: string, now: number, windowMs: number): Promise<number> {
    const ttl = Math.max(1, windowMs) + MARGIN_MS
    return Number(
      await guarded(() => RECORD_FAILURE.run(this.#client, [this.#prefix + key], [now, windowMs, ttl])),
    )
  }

  async release(key: string): Promise<void> {
    await guarded(() => RELEASE.run(this.#client, [this.#prefix + key], []))
  }

  /** One script: the count of `pendingKey` and the read of `key` in one round trip. */
  async reserve(
    pendingKey: string,
    key: string,
    now: number,
    inFlightWindowMs: number,
    windowMs: number,
  ): Promise<LoginReservation> {
    const ttl = Math.max(1, inFlightWindowMs) + MARGIN_MS
    const [count, failures, last] = (await guarded(() =>
      RESERVE.run(
        this.#client,
        [this.#prefix + pendingKey, this.#prefix + key],
        [now, inFlightWindowMs, ttl],
      ),
    )) as [number, string | null, string | null]
    return { inFlight: Number(count), failures: liveFailures(failures, last, now, windowMs) }
  }

  async clear(key: string): Promise<void> {
    await guarded(() => this.#client.del(this.#prefix + key))
  }

  async failures(key: string, now: number, windowMs: number): Promise<LoginFailures | null> {
    const [count, last] = await guarded(() => this.#client.hmget(this.#prefix + key, 'c', 't'))
    return liveFailures(count ?? null, last ?? null, now, windowMs)
  }

  /** Entries expire one window after their last failure: nothing to sweep. */
  async deleteExpired(_before: number): Promise<number> {
    return 0
  }
}

/** An entry's count and last failure as read from its hash, or `null` when none or out of the window. */
function liveFailures(
  count: string | null,
  last: string | null,
  now: number,
  windowMs: number,
): LoginFailures | null {
  if (count === null || last === null || Number(last) < now - windowMs) return null
  return { count: Number(count), lastFailureAt: Number(last) }
}

/**
 * A {@link MailCapStore} on Redis: `<prefix>mail-cap:<key>`, a hash of the window's start and count,
 * expiring when the window ends.
 *
 * @example
 * ```ts
 * const store = new RedisMailCapStore(client, 'myapp:')
 * await store.hit(mailCapKey('password-reset', 'ada@example.com'), Date.now(), 3_600_000) // 1
 * ```
 */
export class RedisMailCapStore implements MailCapStore {
  readonly #client: Redis
  readonly #prefix: string

  /** `prefix` is prepended to every key. Default: `'fastify-users:'`. */
  constructor(client: Redis, prefix = 'fastify-users:') {
    this.#client = client
    this.#prefix = `${prefix}mail-cap:`
  }

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    return Number(
      await guarded(() => HIT.run(this.#client, [this.#prefix + key], [now, Math.max(1, windowMs)])),
    )
  }

  /** Windows expire by themselves: nothing to sweep. */
  async deleteExpired(_before: number): Promise<number> {
    return 0
  }
}

/**
 * A {@link TokenDenylist} on Redis: `<prefix>denied:<jti>`, expiring when the token does (the JWT backend
 * adds the clock tolerance to the time it passes). `now` is the clock the tokens' times come from.
 *
 * @example
 * ```ts
 * const denylist = new RedisTokenDenylist(client, 'myapp:', () => Date.now())
 * await denylist.add(jti, expiresAt)
 * ```
 */
export class RedisTokenDenylist implements TokenDenylist {
  readonly #client: Redis
  readonly #prefix: string
  readonly #now: () => number

  /** `prefix` defaults to `'fastify-users:'`, `now` to `Date.now`. */
  constructor(client: Redis, prefix = 'fastify-users:', now: () => number = Date.now) {
    this.#client = client
    this.#prefix = `${prefix}denied:`
    this.#now = now
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    // A token already past its end is refused by its signature check anyway; a second keeps the entry
    // well-formed (Redis refuses a zero expiry).
    const ttl = Math.max(1000, expiresAt - this.#now())
    await guarded(() => this.#client.set(this.#prefix + jti, '1', 'PX', ttl))
  }

  async has(jti: string): Promise<boolean> {
    return (await guarded(() => this.#client.exists(this.#prefix + jti))) === 1
  }

  /** Entries expire with their tokens: nothing to sweep. */
  async deleteExpired(_now: number): Promise<number> {
    return 0
  }
}
