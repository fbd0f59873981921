/**
 * The port through which instances tell each other to drop cached authentication state: a revoking write
 * on one instance publishes a message, every instance (itself included) drops what the message names.
 * Adapters: Redis pub/sub and PostgreSQL `LISTEN/NOTIFY` (in `fastify-users/kysely` and the Redis module).
 *
 * @module
 */

/**
 * What to drop: every credential of one user (`user`, by id as a string), one credential (`credential`,
 * by session id or token `jti`), or everything (`all`: a role renamed or deleted touches many users).
 */
export type InvalidationMessage =
  | { kind: 'user'; id: string }
  | { kind: 'credential'; id: string }
  | { kind: 'all' }

/** What a bus tells its subscriber. */
export interface InvalidationListener {
  /** A message published by any instance, this one included. */
  onMessage(message: InvalidationMessage): void
  /**
   * The subscription is live (`true`: messages will arrive) or lost (`false`: messages may be missed).
   * Called with `true` once subscribed, and again after every reconnection.
   */
  onStatus(up: boolean): void
}

/**
 * A publish/subscribe channel shared by every instance of the application.
 *
 * @example
 * ```ts
 * const bus: InvalidationBus = {
 *   async publish(message) { await broker.send('users', JSON.stringify(message)) },
 *   async subscribe(listener) { broker.on('users', (m) => listener.onMessage(JSON.parse(m))); listener.onStatus(true) },
 *   async close() {},
 * }
 * ```
 */
export interface InvalidationBus {
  /** Resolves once the channel accepted the message; rejects when it could not be sent. */
  publish(message: InvalidationMessage): Promise<void>
  /** Starts delivering to `listener`; resolves once the first subscription attempt ended (either way). */
  subscribe(listener: InvalidationListener): Promise<void>
  /** Stops the subscription and releases its connection. */
  close(): Promise<void>
}

/**
 * Reads a message off the wire. Anything malformed reads as `all`: it cannot crash the subscriber, and
 * a message the instance cannot understand may have been a revocation, so everything is dropped.
 *
 * @example
 * ```ts
 * parseInvalidation('{"kind":"user","id":"42"}') // { kind: 'user', id: '42' }
 * ```
 */
export function parseInvalidation(text: string): InvalidationMessage {
  try {
    const value = JSON.parse(text) as { kind?: unknown; id?: unknown }
    if (value.kind === 'all') return { kind: 'all' }
    if ((value.kind === 'user' || value.kind === 'credential') && typeof value.id === 'string') {
      return { kind: value.kind, id: value.id }
    }
  } catch {}
  return { kind: 'all' }
}
