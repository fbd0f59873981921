/**
 * The authentication cache's bus on PostgreSQL `LISTEN/NOTIFY`, for instances that share a PostgreSQL
 * database and no Redis: notifications are sent through the application's Kysely pool, and received on
 * one dedicated connection (a listening connection cannot be returned to a pool).
 *
 * @module
 */
import { type Kysely, sql } from 'kysely'
import type pg from 'pg'
import type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from '../../auth/invalidation-bus.js'
import { parseInvalidation } from '../../auth/invalidation-bus.js'

/**
 * The channel of the plugin's cache for a users table (at most 63 characters): the plugin listens on it,
 * and the CLI notifies on it, so apps with other tables in the same database do not share a cache.
 *
 * @example
 * ```ts
 * pgCacheChannel('users') // 'fastify_users_auth_cache_users'
 * ```
 */
export function pgCacheChannel(usersTable: string): string {
  return `fastify_users_auth_cache_${usersTable}`.slice(0, 63)
}

/** Options of {@link PgInvalidationBus}. */
export interface PgInvalidationBusOptions {
  /** The channel (at most 63 characters). Default: `'fastify_users_auth_cache'`. */
  channel?: string
  /** Waiting before reconnecting the listener after it was lost, in milliseconds. Default: `1000`. */
  retryMs?: number
}

/**
 * PostgreSQL `LISTEN/NOTIFY`. The subscription is down (the cache bypassed) from any error or end of the
 * listening connection until a new one is connected and listening; it reconnects by itself.
 *
 * @example
 * ```ts
 * const bus = new PgInvalidationBus(db, 'postgres://app@db.internal/app')
 * ```
 */
export class PgInvalidationBus implements InvalidationBus {
  readonly channel: string
  readonly #db: Kysely<unknown>
  readonly #connectionString: string
  readonly #retryMs: number
  #client: pg.Client | undefined
  #closed = false
  #timer: NodeJS.Timeout | undefined

  constructor(db: Kysely<unknown>, connectionString: string, options: PgInvalidationBusOptions = {}) {
    const channel = options.channel ?? 'fastify_users_auth_cache'
    if (channel.length === 0 || channel.length > 63)
      throw new TypeError('fastify-users: a PostgreSQL channel name has 1 to 63 characters')
    this.channel = channel
    this.#db = db
    this.#connectionString = connectionString
    this.#retryMs = options.retryMs ?? 1000
  }

  async publish(message: InvalidationMessage): Promise<void> {
    // After the write committed (the repositories do not hold a transaction open), so it is delivered now.
    await sql`select pg_notify(${this.channel}, ${JSON.stringify(message)})`.execute(this.#db)
  }

  async subscribe(listener: InvalidationListener): Promise<void> {
    this.#closed = false
    await this.#listen(listener)
  }

  async #listen(listener: InvalidationListener): Promise<void> {
    if (this.#closed) return
    // `pg` is an optional peer dependency, loaded only when this bus is used.
    const { Client } = (await import('pg')).default
    const client = new Client({ connectionString: this.#connectionString })
    this.#client = client
    let lost = false
    const onLost = (): void => {
      if (lost) return
      lost = true
      listener.onStatus(false)
      client.end().catch(() => {})
      if (!this.#closed) this.#timer = setTimeout(() => void this.#listen(listener), this.#retryMs)
    }
    client.on('error', onLost)
    client.on('end', onLost)
    client.on('notification', (note) => {
      if (note.channel === this.channel) listener.onMessage(parseInvalidation(note.payload ?? ''))
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`)
      if (!lost) listener.onStatus(true)
    } catch {
      onLost()
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const client = this.#client
    this.#client = undefined
    client?.removeAllListeners('end')
    await client?.end().catch(() => {})
  }
}
