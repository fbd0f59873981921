/**
 * Per-identifier login throttling: after a number of consecutive failed password checks for one login
 * identifier, each further attempt waits an exponentially growing delay after the last failure. Every
 * route that checks a password (login, password change, verification, email change) goes through the
 * same throttle, so none is a faster oracle than the login.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import { TooManyAttemptsError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { loginAttemptKey } from './fingerprints.js'
import type { LoginAttemptStore, LoginFailures } from './repositories.js'
import type { Id } from './user.js'

/**
 * Per-identifier login throttling (see "Login throttling" in docs/security.md): after `freeAttempts`
 * consecutive failed password checks for one login identifier, each further attempt must wait
 * `2^(failures - freeAttempts)` seconds after the last failure (1 s, 2 s, 4 s...), capped at
 * `maxDelaySeconds`. An attempt refused for coming too early costs no hash and is not counted; a success
 * clears the count. There is never a permanent lock.
 *
 * @example
 * ```ts
 * // Stricter than the defaults: 3 free attempts, then up to an hour between guesses.
 * new BaseUserService({ ...repos, secret, loginThrottle: { freeAttempts: 3, maxDelaySeconds: 3600 } })
 * ```
 */
export interface LoginThrottleOptions {
  /** Consecutive failures allowed before attempts are delayed; from 1 to 100. Default: `5`. */
  freeAttempts?: number
  /** The longest delay between two attempts, in seconds; from 1 to 86400. Default: `900` (15 min). */
  maxDelaySeconds?: number
  /**
   * Failures are forgotten once the last one is this many seconds old; from `maxDelaySeconds` to 86400, so
   * a delay never outlives its count. Default: `900`, or `maxDelaySeconds` when that is longer.
   */
  windowSeconds?: number
}

/**
 * One password check let through by the throttle; it ends once, whichever way comes first.
 *
 * @example
 * ```ts
 * const attempt = await throttle.begin(key, null)
 * try {
 *   if (valid) await attempt.succeed()
 *   else await attempt.fail()
 * } finally {
 *   await attempt.abandon()
 * }
 * ```
 */
export interface LoginAttempt {
  /** A wrong password: counts one failure; returns the count. */
  fail(): Promise<number | undefined>
  /** A right password: clears the failures. */
  succeed(): Promise<void>
  /** No password was checked (an error): nothing is counted. A no-op after `fail` or `succeed`. */
  abandon(): Promise<void>
}

/**
 * How long an attempt that found others in flight for its identifier waits for them to end (they end after
 * one hash), before it is refused with `Retry-After: 1`; and the first interval it polls the store at.
 */
const IN_FLIGHT_WAIT_MS = 30_000
const IN_FLIGHT_POLL_MS = 10
/**
 * Reservations of attempts in flight are forgotten once the last one is this old: an attempt ends after
 * one hash, so only a process that died mid-check leaves one behind, and it must not block for long.
 */
const IN_FLIGHT_WINDOW_MS = 60_000

/**
 * Validates `loginThrottle` and fills in its defaults; `null` when it is turned off. Misuse throws
 * `TypeError` naming the option.
 *
 * @example
 * ```ts
 * resolveLoginThrottle(undefined) // { freeAttempts: 5, maxDelaySeconds: 900, windowSeconds: 900 }
 * resolveLoginThrottle(false) // null
 * ```
 */
export function resolveLoginThrottle(
  option: LoginThrottleOptions | false | undefined,
): Required<LoginThrottleOptions> | null {
  if (option === false) return null
  if (option !== undefined && (option === null || typeof option !== 'object')) {
    throw new TypeError(
      'fastify-users: `loginThrottle` must be an object such as { freeAttempts: 5 }, or false to turn it off',
    )
  }
  const whole = (name: keyof LoginThrottleOptions, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(
        `fastify-users: \`loginThrottle.${name}\` must be a whole number from ${min} to ${max}` +
          (name === 'windowSeconds'
            ? ' (at least maxDelaySeconds, so a delay never outlives its count)'
            : ''),
      )
    }
    return value
  }
  const freeAttempts = whole('freeAttempts', option?.freeAttempts ?? 5, 1, 100)
  const maxDelaySeconds = whole('maxDelaySeconds', option?.maxDelaySeconds ?? 900, 1, 86_400)
  const windowSeconds = whole(
    'windowSeconds',
    option?.windowSeconds ?? Math.max(900, maxDelaySeconds),
    maxDelaySeconds,
    86_400,
  )
  return { freeAttempts, maxDelaySeconds, windowSeconds }
}

/**
 * The throttle itself, over a {@link LoginAttemptStore}. Built by the user service when throttling is on.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(resolveLoginThrottle({})!, repos.loginAttemptStore, systemClock, logger)
 * const attempt = await throttle.begin(throttle.keyOf('ada@example.com'), null)
 * ```
 */
export class LoginThrottle {
  readonly settings: Readonly<Required<LoginThrottleOptions>>
  readonly store: LoginAttemptStore
  readonly #clock: Clock
  readonly #logger: Logger

  constructor(
    settings: Readonly<Required<LoginThrottleOptions>>,
    store: LoginAttemptStore,
    clock: Clock,
    logger: Logger,
  ) {
    this.settings = settings
    this.store = store
    this.#clock = clock
    this.#logger = logger
  }

  /** The throttle key of a login identifier value. */
  keyOf(identifier: unknown): string {
    // A value that is no string cannot name an account; it still gets a key (the empty one), so that
    // sending one is no way around the throttle.
    return loginAttemptKey(typeof identifier === 'string' ? identifier : '')
  }

  /**
   * Starts a password check for `key`: throws {@link TooManyAttemptsError} while the key must wait (before
   * any hash work, and without counting the attempt); otherwise returns the attempt, which the caller ends
   * with `fail()`, `succeed()` or, in a `finally`, `abandon()`.
   *
   * Only failed checks count, and only they raise the delay: attempts in flight are not evidence of
   * guessing. They are counted apart, under their own key (atomically, in the same store, so across
   * instances too), and an attempt goes on to a hash only while the failures plus the attempts in flight
   * stay within the free attempts (one at a time once the delay applies). An attempt beyond that waits
   * for those in flight to end: if they failed, the delay they earned refuses it; if one succeeded, the
   * count is clear and it goes on. So a burst of parallel guesses gets no more hashes than the free
   * attempts, and a burst of right passwords (a double-clicked form, parallel clients) all get in.
   */
  async begin(key: string, userId: Id | null): Promise<LoginAttempt> {
    const { store, settings } = this
    const windowMs = settings.windowSeconds * 1000
    const pending = inFlightAttemptKey(key)
    const waitUntil = performance.now() + IN_FLIGHT_WAIT_MS
    for (let round = 0; ; round++) {
      // One read per attempt, after reserving: an attempt that ends meanwhile is then seen either still in
      // flight (in `inFlight`) or as a failure (it records its failure before it gives its reservation
      // back). A throttled identifier is refused on that read, before any hash and without counting a
      // failure; its reservation is given back in the `finally` below.
      // A store that can reserve and read in one call saves a round trip (see LoginAttemptStore.reserve);
      // when that call throws, it has counted nothing.
      const reservation = store.reserve
        ? await store.reserve(pending, key, this.#clock.now(), IN_FLIGHT_WINDOW_MS, windowMs)
        : null
      const inFlight =
        reservation?.inFlight ?? (await store.recordFailure(pending, this.#clock.now(), IN_FLIGHT_WINDOW_MS))
      let proceed = false
      let failed = 0
      try {
        const state = reservation
          ? reservation.failures
          : await store.failures(key, this.#clock.now(), windowMs)
        this.#refuseWhileDelayed(state, userId)
        failed = state?.count ?? 0
        proceed = inFlight <= (failed < settings.freeAttempts ? settings.freeAttempts - failed : 1)
      } finally {
        if (!proceed) await store.release(pending)
      }
      if (proceed) return this.#attempt(key, pending, windowMs, failed > 0)
      const left = waitUntil - performance.now()
      // Still in flight after the wait: a flood of parallel attempts, capped with the shortest wait.
      if (left <= 0) this.#refuse(userId, 1)
      await sleep(Math.min(left, IN_FLIGHT_POLL_MS * 2 ** Math.min(round, 4)))
    }
  }

  /** Forgets the failures counted for each of these identifiers. */
  async clear(identifiers: Iterable<string>): Promise<void> {
    const keys = new Set([...identifiers].map((identifier) => loginAttemptKey(identifier)))
    for (const key of keys) await this.store.clear(key)
  }

  /** Throws {@link TooManyAttemptsError} while the failures in `state` make the identifier wait. */
  #refuseWhileDelayed(state: LoginFailures | null, userId: Id | null): void {
    if (!state || state.count < this.settings.freeAttempts) return
    const now = this.#clock.now()
    const retryAt = state.lastFailureAt + this.#delaySeconds(state.count) * 1000
    if (now < retryAt) this.#refuse(userId, Math.ceil((retryAt - now) / 1000))
  }

  #attempt(key: string, pending: string, windowMs: number, hadFailures: boolean): LoginAttempt {
    const store = this.store
    let ended = false
    const end = async (outcome: () => Promise<number | undefined>): Promise<number | undefined> => {
      if (ended) return undefined
      ended = true
      try {
        // The outcome is written before the reservation is given back, never after (see `begin`).
        return await outcome()
      } finally {
        await store.release(pending)
      }
    }
    return {
      fail: () => end(() => store.recordFailure(key, this.#clock.now(), windowMs)),
      succeed: async () => {
        await end(async () => {
          // Nothing to forget when no failure counted at the start (most logins): one write less per
          // login. A failure a parallel attempt records meanwhile then stays counted, which errs on the
          // strict side; an expired count is reset by the next failure and purged by the sweep.
          if (hadFailures) await store.clear(key)
          return undefined
        })
      },
      abandon: async () => {
        await end(async () => undefined)
      },
    }
  }

  /** Seconds to wait after `failures` consecutive failures: 1 s after the last free one, doubling, capped. */
  #delaySeconds(failures: number): number {
    // 2 ** n is Infinity for a huge n, which the cap absorbs.
    return Math.min(2 ** (failures - this.settings.freeAttempts), this.settings.maxDelaySeconds)
  }

  #refuse(userId: Id | null, retryAfterSeconds: number): never {
    const seconds = Math.max(1, retryAfterSeconds)
    this.#logger.warn(
      { event: 'authn_login_lock', reason: 'throttled', userId, retryAfterSeconds: seconds },
      'attempt refused: too many failures',
    )
    throw new TooManyAttemptsError(seconds)
  }
}

/**
 * The key under which the attempts in flight of a throttle key are counted, in the same store: a hash of
 * it, so it has the same shape (64 hex digits) and never collides with an identifier's key.
 */
function inFlightAttemptKey(key: string): string {
  return sha256(`in-flight:${key}`, 'hex')
}
