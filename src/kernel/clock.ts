/**
 * Time as the library sees it. Injected everywhere expiry matters, so tests move time instead of
 * sleeping (the way jose's tests freeze the clock).
 *
 * @module
 */

/** A source of the current time. */
export interface Clock {
  /** Milliseconds since the Unix epoch, like `Date.now()`. */
  now(): number
}

/** The wall clock. Default everywhere a `clock` option exists. */
export const systemClock: Clock = { now: () => Date.now() }
