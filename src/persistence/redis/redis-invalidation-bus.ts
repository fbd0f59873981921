/**
 * The authentication cache's bus on Redis (or Valkey) pub/sub, through an ioredis client the application
 * already has: publishing uses that client, subscribing a duplicate of it (a subscribed connection can do
 * nothing else).
 *
 * @module
 */
import type { Redis } from 'ioredis'
import type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from '../../auth/invalidation-bus.js'
import { parseInvalidation } from '../../auth/invalidation-bus.js'
import { guarded } from './redis-errors.js'

/** Options of {@link RedisInvalidationBus}. */
export interface RedisInvalidationBusOptions {
  /** The channel; instances share a cache only on the same one. Default: `'fastify-users:auth-cache'`. */
  channel?: string
  /** How long `subscribe()` waits for the first subscription before resolving (still down). Default: `5000`. */
  connectTimeoutMs?: number
}

/**
 * The Redis channel of the authentication cache of the application whose users table is `usersTable`,
 * shared by the plugin and the CLI.
 *
 * @example
 * ```ts
 * redisCacheChannel('users') // 'fastify-users:auth-cache:users'
 * ```
 */
export function redisCacheChannel(usersTable: string): string {
  return `fastify-users:auth-cache:${usersTable}`
}

/**
 * Redis pub/sub. The subscription is down (the cache bypassed) from any `close` or `error` of the
 * subscriber until it is connected and subscribed again; ioredis reconnects by itself.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * const bus = new RedisInvalidationBus(new Redis('redis://127.0.0.1:6379'))
 * ```
 */
export class RedisInvalidationBus implements InvalidationBus {
  readonly channel: string
  readonly #client: Redis
  readonly #connectTimeoutMs: number
  #subscriber: Redis | undefined

  constructor(client: Redis, options: RedisInvalidationBusOptions = {}) {
    this.#client = client
    this.channel = options.channel ?? 'fastify-users:auth-cache'
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await guarded(() => this.#client.publish(this.channel, JSON.stringify(message)))
  }

  async subscribe(listener: InvalidationListener): Promise<void> {
    // Resubscribing is done here, after each `ready`, so the status turns up only once it is subscribed.
    const subscriber = this.#client.duplicate({ autoResubscribe: false, lazyConnect: true })
    this.#subscriber = subscriber
    let settle: () => void = () => {}
    const first = new Promise<void>((resolve) => {
      settle = resolve
    })
    const status = (up: boolean): void => {
      listener.onStatus(up)
      settle()
    }
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) listener.onMessage(parseInvalidation(text))
    })
    subscriber.on('close', () => status(false))
    subscriber.on('error', () => status(false))
    subscriber.on('ready', () => {
      subscriber.subscribe(this.channel).then(
        () => status(true),
        () => status(false),
      )
    })
    subscriber.connect().catch(() => status(false))
    const timer = setTimeout(settle, this.#connectTimeoutMs)
    await first
    clearTimeout(timer)
  }

  async close(): Promise<void> {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    subscriber?.disconnect()
  }
}
