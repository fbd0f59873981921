/**
 * A per-process cache of the authenticated state: credential -> the user (with roles) it authenticates,
 * so a request with a cached credential makes no database round trip. Bounded (least recently used entries
 * go first), short-lived, never past the credential's own end, and dropped by the writes that revoke:
 * locally at once, and on every other instance through an {@link InvalidationBus}. While the bus is not
 * subscribed (starting, disconnected, failed), the cache is bypassed: every request asks the database.
 *
 * @module
 */
import type { Logger } from '../kernel/logger.js'
import type { InvalidationBus, InvalidationMessage } from './invalidation-bus.js'

/** Options of {@link AuthCache}. */
export interface AuthCacheOptions {
  /**
   * The most entries kept; the least recently used go first (an entry used at least once every
   * `maxEntries / 2` new entries is never dropped for room). Default: `10000`.
   */
  maxEntries?: number
  /** How long an entry is trusted, in seconds (1 to 60). Default: `5`. */
  ttlSeconds?: number
  /**
   * The channel shared by the instances. Without one the cache trusts that this process is the only
   * writer (a single instance): it is live at once, and only local writes invalidate it.
   */
  bus?: InvalidationBus
  /** Where a failed publish or a lost subscription is reported. */
  logger?: Pick<Logger, 'error' | 'warn'>
}

// How long a revoking write waits for the bus before it logs the failure and answers.
const PUBLISH_TIMEOUT_MS = 2000

interface Entry {
  userKey: string
  // The credential's own id, when it is not the key (a JWT is looked up by its text, revoked by its jti).
  credentialId: string | undefined
  value: unknown
  until: number
  // The cache's placement count when the entry last moved to the newest end (see `get`).
  placed: number
}

/**
 * The cache. Backends read with {@link AuthCache.get} and store with {@link AuthCache.set} under the
 * ticket {@link AuthCache.ticket} gave before they asked the database: an entry read before a revocation
 * landed is never stored after it.
 *
 * @example
 * ```ts
 * const cache = new AuthCache({ ttlSeconds: 5, bus: new RedisInvalidationBus(redis) })
 * await cache.start()
 * await cache.revoke({ kind: 'user', id: '42' }) // after the write that deactivated user 42
 * ```
 */
export class AuthCache {
  readonly maxEntries: number
  readonly ttlMs: number
  readonly #entries = new Map<string, Entry>()
  readonly #byUser = new Map<string, Set<string>>()
  readonly #byCredential = new Map<string, string>()
  readonly #bus: InvalidationBus | undefined
  readonly #logger: AuthCacheOptions['logger']
  // Bumped by every invalidation: a database read that began before one must not be stored after it.
  #epoch = 0
  // Counts every move of an entry to the newest end of `#entries` (an insertion or a refresh).
  #placements = 0
  readonly #refreshAfter: number
  #live: boolean

  constructor(options: AuthCacheOptions = {}) {
    const max = options.maxEntries ?? 10_000
    const ttl = options.ttlSeconds ?? 5
    if (!Number.isInteger(max) || max < 1 || max > 10_000_000)
      throw new TypeError('fastify-users: `cache.maxEntries` must be an integer from 1 to 10000000')
    if (typeof ttl !== 'number' || !(ttl > 0) || ttl > 60)
      throw new TypeError('fastify-users: `cache.ttlSeconds` must be more than 0 and at most 60')
    this.maxEntries = max
    this.#refreshAfter = Math.ceil(max / 2)
    this.ttlMs = ttl * 1000
    this.#bus = options.bus
    this.#logger = options.logger
    this.#live = options.bus === undefined
  }

  /** Whether the cache is used now: always without a bus, only while subscribed with one. */
  get live(): boolean {
    return this.#live
  }

  /** How many entries are held. */
  get size(): number {
    return this.#entries.size
  }

  /** Subscribes to the bus (nothing without one). Resolves once the first attempt ended, either way. */
  async start(): Promise<void> {
    await this.#bus?.subscribe({
      onMessage: (message) => this.#apply(message),
      onStatus: (up) => {
        // Whatever was missed while down is unknown: start empty either way.
        this.clear()
        if (!up && this.#live)
          this.#logger?.warn({}, 'fastify-users: authentication cache bypassed (bus down)')
        this.#live = up
      },
    })
  }

  /** Unsubscribes and empties the cache. */
  async close(): Promise<void> {
    this.#live = false
    this.clear()
    await this.#bus?.close()
  }

  /** The ticket to pass to {@link AuthCache.set} for a value about to be read from the database. */
  ticket(): number {
    return this.#epoch
  }

  /** The value cached under `key`, if live and not expired at `now`. */
  get(key: string, now: number): unknown {
    if (!this.#live) return undefined
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (now >= entry.until) {
      this.#delete(key)
      return undefined
    }
    // Least recently used order, kept lazily: a hit moves its entry to the newest end only once half the
    // capacity was placed after it, so an entry used at least once every `maxEntries / 2` placements is
    // never the oldest. Moving on every hit rebuilt the Map's table on every request, and V8 promoted
    // those tables to the old generation: most of a busy server's garbage, and of its peak memory.
    if (this.#placements - entry.placed >= this.#refreshAfter) {
      this.#entries.delete(key)
      this.#entries.set(key, entry)
      entry.placed = ++this.#placements
    }
    return entry.value
  }

  /**
   * Stores `value` for `key` (a credential of the user `userId`) until `min(until, now + ttl)`, unless the
   * cache is not live or anything was invalidated since `ticket` was taken. `credentialId` is the id a
   * `credential` invalidation names, when it is not `key` itself.
   */
  set(
    key: string,
    userId: string,
    value: unknown,
    until: number,
    now: number,
    ticket: number,
    credentialId?: string,
  ): void {
    if (!this.#live || ticket !== this.#epoch) return
    const end = Math.min(until, now + this.ttlMs)
    if (end <= now) return
    this.#delete(key)
    const alias = credentialId !== undefined && credentialId !== key ? credentialId : undefined
    if (alias !== undefined) {
      this.#delete(this.#byCredential.get(alias) ?? alias)
      this.#byCredential.set(alias, key)
    }
    this.#entries.set(key, {
      userKey: userId,
      credentialId: alias,
      value,
      until: end,
      placed: ++this.#placements,
    })
    const keys = this.#byUser.get(userId)
    if (keys) keys.add(key)
    else this.#byUser.set(userId, new Set([key]))
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#delete(oldest)
    }
  }

  /**
   * Drops what `message` names here at once, then publishes it to the other instances and waits until the
   * bus accepted it. A failed publish is logged, not thrown: the write it follows is done and cannot be
   * undone; the other instances then hold the stale entry at most the TTL (or drop it on reconnection).
   */
  async revoke(message: InvalidationMessage): Promise<void> {
    this.#apply(message)
    if (!this.#bus) return
    let timer: NodeJS.Timeout | undefined
    try {
      // Bounded: a client that queues commands while disconnected must not hold the revoking request.
      await Promise.race([
        this.#bus.publish(message),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('publish timed out')), PUBLISH_TIMEOUT_MS)
        }),
      ])
    } catch (err) {
      this.#logger?.error(
        { err, kind: message.kind },
        'fastify-users: could not publish a cache invalidation; other instances may trust it until the TTL',
      )
    } finally {
      clearTimeout(timer)
    }
  }

  /** Empties the cache (and invalidates reads in flight). */
  clear(): void {
    this.#epoch++
    this.#entries.clear()
    this.#byUser.clear()
    this.#byCredential.clear()
  }

  #apply(message: InvalidationMessage): void {
    this.#epoch++
    if (message.kind === 'all') {
      this.clear()
    } else if (message.kind === 'credential') {
      this.#delete(this.#byCredential.get(message.id) ?? message.id)
    } else {
      // A copy: each #delete also takes its key out of the user's set.
      for (const key of [...(this.#byUser.get(message.id) ?? [])]) this.#delete(key)
    }
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    if (entry.credentialId !== undefined) this.#byCredential.delete(entry.credentialId)
    const keys = this.#byUser.get(entry.userKey)
    keys?.delete(key)
    if (keys?.size === 0) this.#byUser.delete(entry.userKey)
  }
}
