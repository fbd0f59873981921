/**
 * The optional breached-password check: a k-anonymity range query in the format of the Pwned Passwords
 * range API. Only the first 5 hex digits of the password's SHA-1 leave the process; the server answers
 * every suffix it knows under that prefix (`SUFFIX:COUNT` lines), and the match is made locally. Requests
 * ask for padding (`Add-Padding: true`) so the size of the answer does not hint at the prefix either.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { BusyError } from '../kernel/errors.js'
import { type Logger, silentLogger } from '../kernel/logger.js'

/** Options of {@link BreachedPasswordCheck}. */
export interface BreachedPasswordOptions {
  /**
   * The range endpoint; the 5-digit prefix is appended. Default: `'https://api.pwnedpasswords.com/range/'`.
   * Point it at your own mirror to keep even the prefixes inside your network.
   */
  url?: string
  /** How long to wait for the answer, in milliseconds. Default: `2000`; between 100 and 30000. */
  timeoutMs?: number
  /**
   * What happens when the range server cannot be asked (timeout, network error, a non-200 answer):
   * `'open'` accepts the password and logs a warning (`breach_check_unavailable`); `'closed'` refuses the
   * request with a 503 (`ERR_BUSY`), so no password is set unchecked. Default: `'open'`, so an outage of
   * a third party never stops registrations and resets.
   */
  onError?: 'open' | 'closed'
  /** Fewest breaches that refuse a password. Default: `1` (any breach). */
  minBreaches?: number
}

const SUFFIX_LINE = /^([0-9A-F]{35}):(\d+)$/

/**
 * Asks a range server whether a password appears in known breaches.
 *
 * @throws TypeError at construction on a bad option.
 *
 * @example
 * ```ts
 * const check = new BreachedPasswordCheck({ timeoutMs: 1500 })
 * await check.isBreached('P@ssw0rd') // true: found in breaches, refuse it
 * ```
 */
export class BreachedPasswordCheck {
  readonly url: string
  readonly timeoutMs: number
  readonly onError: 'open' | 'closed'
  readonly minBreaches: number
  readonly #logger: Logger

  constructor(options: BreachedPasswordOptions = {}, logger: Logger = silentLogger) {
    if (!options || typeof options !== 'object') {
      throw new TypeError('fastify-users: `passwordPolicy.breached` must be an object, `true` or `false`')
    }
    const url = options.url ?? 'https://api.pwnedpasswords.com/range/'
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new TypeError('fastify-users: `passwordPolicy.breached.url` must be an absolute http(s) URL')
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new TypeError('fastify-users: `passwordPolicy.breached.url` must be an absolute http(s) URL')
    }
    const timeoutMs = options.timeoutMs ?? 2000
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 30_000) {
      throw new TypeError(
        'fastify-users: `passwordPolicy.breached.timeoutMs` must be an integer from 100 to 30000',
      )
    }
    const onError = options.onError ?? 'open'
    if (onError !== 'open' && onError !== 'closed') {
      throw new TypeError("fastify-users: `passwordPolicy.breached.onError` must be 'open' or 'closed'")
    }
    const minBreaches = options.minBreaches ?? 1
    if (!Number.isInteger(minBreaches) || minBreaches < 1) {
      throw new TypeError('fastify-users: `passwordPolicy.breached.minBreaches` must be a positive integer')
    }
    this.url = url
    this.timeoutMs = timeoutMs
    this.onError = onError
    this.minBreaches = minBreaches
    this.#logger = logger
  }

  /**
   * Whether the password (as hashed: pass it NFKC-normalised) is in at least `minBreaches` breaches.
   * When the server cannot be asked: `false` and a warning with `onError: 'open'`, {@link BusyError}
   * with `onError: 'closed'`.
   */
  async isBreached(password: string): Promise<boolean> {
    const sha1 = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase()
    const prefix = sha1.slice(0, 5)
    const suffix = sha1.slice(5)
    let body: string
    try {
      const res = await fetch(`${this.url}${prefix}`, {
        headers: { 'add-padding': 'true', accept: 'text/plain' },
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      })
      if (res.status !== 200) {
        await res.body?.cancel()
        throw new Error(`range server answered ${res.status}`)
      }
      body = await res.text()
    } catch (err) {
      // The error names the host at most; the prefix alone is what k-anonymity sends anyway.
      this.#logger.warn(
        { event: 'breach_check_unavailable', onError: this.onError, err: String(err) },
        'breached-password check unavailable',
      )
      if (this.onError === 'closed') throw new BusyError()
      return false
    }
    for (const line of body.split('\n')) {
      const match = SUFFIX_LINE.exec(line.trim().toUpperCase())
      // Padding entries have a count of 0.
      if (match && match[1] === suffix) return Number(match[2]) >= this.minBreaches
    }
    return false
  }
}
