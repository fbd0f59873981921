/**
 * The cap on mails to one address: at most `max` mails of each kind per window (5 an hour by default), so
 * that nobody can flood an inbox through the public routes (200 reset mails in a row reached one inbox
 * before this). It sits in the service, so the HTTP routes, the application's own code and the CLI all
 * go through it. Over the cap the mail is silently not sent (the caller's answer does not change, so the
 * cap reveals nothing about which addresses have accounts) and a `mail_capped` security event is logged.
 *
 * @module
 */
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import type { Logger } from '../kernel/logger.js'
import { foldIdentifier } from './identifiers.js'

/**
 * Where mails are counted. Keys are the hex SHA-256 of the kind and the address ({@link mailCapKey}),
 * never the address in clear. Times are epoch milliseconds from the service's clock.
 *
 * @example
 * ```ts
 * const store = createKyselyRepositories(db).mailCapStore
 * await store.hit(mailCapKey('password-reset', 'ada@example.com'), Date.now(), 3_600_000) // 1
 * ```
 */
export interface MailCapStore {
  /**
   * Atomically counts one more mail for `key` and returns the count in the current window: N concurrent
   * calls count exactly N. A window starts with the first mail and lasts `windowMs`; once it has passed,
   * the count starts again at 1.
   */
  hit(key: string, now: number, windowMs: number): Promise<number>
  /** Deletes the entries whose window started at or before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>
}

/** Options of the mail cap (the service's `mailCap`). */
export interface MailCapOptions {
  /** Most mails of one kind to one address per window. Default: `5`; from 1 to 1000. */
  max?: number
  /** The window, in seconds. Default: `3600` (an hour); from 60 to 604800 (a week). */
  windowSeconds?: number
}

/**
 * The key of one kind of mail to one address: the hex SHA-256 of `kind` and the lower-cased address.
 *
 * @example
 * ```ts
 * mailCapKey('password-reset', 'Ada@Example.com') === mailCapKey('password-reset', 'ada@example.com') // true
 * ```
 */
export function mailCapKey(kind: string, address: string): string {
  return sha256(`mail-cap:${kind}:${foldIdentifier(address)}`, 'hex')
}

/**
 * Decides whether a mail may go out, counting it when it may.
 *
 * @throws TypeError at construction on a bad option.
 *
 * @example
 * ```ts
 * const cap = new MailCap(store, { max: 5, windowSeconds: 3600 }, clock, logger)
 * if (await cap.allow('password-reset', user.email, user.id)) await send()
 * ```
 */
export class MailCap {
  readonly max: number
  readonly windowSeconds: number
  readonly #store: MailCapStore
  readonly #clock: Clock
  readonly #logger: Logger

  constructor(store: MailCapStore, options: MailCapOptions, clock: Clock, logger: Logger) {
    if (!options || typeof options !== 'object') {
      throw new TypeError('fastify-users: `mailCap` must be an object or `false`')
    }
    const { max = 5, windowSeconds = 3600 } = options
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new TypeError('fastify-users: `mailCap.max` must be an integer from 1 to 1000')
    }
    if (!Number.isInteger(windowSeconds) || windowSeconds < 60 || windowSeconds > 604_800) {
      throw new TypeError('fastify-users: `mailCap.windowSeconds` must be an integer from 60 to 604800')
    }
    this.max = max
    this.windowSeconds = windowSeconds
    this.#store = store
    this.#clock = clock
    this.#logger = logger
  }

  /**
   * Counts a mail of `kind` to `address` and says whether it may be sent. A failing store lets the mail
   * through (logged): the cap protects inboxes, and must not stop password resets when the database hiccups.
   */
  async allow(kind: string, address: string, userId?: unknown): Promise<boolean> {
    let count: number
    try {
      count = await this.#store.hit(mailCapKey(kind, address), this.#clock.now(), this.windowSeconds * 1000)
    } catch (err) {
      this.#logger.error({ event: 'mail_cap_failed', kind, userId, err }, 'mail cap store failed; mail sent')
      return true
    }
    if (count <= this.max) return true
    this.#logger.warn(
      { event: 'mail_capped', kind, userId, count, max: this.max, windowSeconds: this.windowSeconds },
      'mail not sent: too many mails of this kind to this address',
    )
    return false
  }

  /** Deletes counters whose window has passed (for the periodic sweep). */
  deleteExpired(): Promise<number> {
    return this.#store.deleteExpired(this.#clock.now() - this.windowSeconds * 1000)
  }
}
