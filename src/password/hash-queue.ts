/**
 * A FIFO concurrency limiter in front of libuv's thread pool.
 *
 * Async hashing runs on that pool, which Node shares with `fs`, `dns.lookup`, zlib and the rest of
 * `crypto`, and which has only 4 threads by default. Without a limit, a burst of logins fills every
 * pool thread with 20 ms hashes and all file and DNS work waits behind them. The queue keeps at least
 * one thread free and sheds load with {@link BusyError} once too many hashes are waiting.
 *
 * @module
 */

import { availableParallelism } from 'node:os'
import { BusyError } from '../kernel/errors.js'

/** Options of {@link HashQueue}. */
export interface HashQueueOptions {
  /**
   * Most tasks running at once. Default: {@link defaultHashConcurrency}, the thread-pool size minus one
   * and at most the number of CPUs.
   */
  concurrency?: number
  /** Most tasks waiting for a slot; the next one is refused with `BusyError`. Default: `1000`. */
  maxQueued?: number
}

/**
 * The default concurrency: one less than libuv's thread-pool size (`UV_THREADPOOL_SIZE`, 4 when unset),
 * so a thread always stays free for `fs` and `dns`; and one less than `os.availableParallelism()`, so a
 * core always stays free for the event loop: hashing is CPU-bound, and a burst of logins that took every
 * core would slow every other request of the application (session checks, its own routes) with it. At
 * least 1, so a one-core machine still hashes. An application that would rather spend every core on
 * logins sets `passwordHashing.concurrency`.
 *
 * @example
 * ```ts
 * // UV_THREADPOOL_SIZE unset, 8 cores: min(4 - 1, 8 - 1) = 3; 2 cores: min(3, 1) = 1
 * defaultHashConcurrency() // 3
 * ```
 */
export function defaultHashConcurrency(): number {
  const poolSize = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10)
  const threads = Number.isInteger(poolSize) && poolSize > 0 ? poolSize : 4
  return Math.max(1, Math.min(threads - 1, availableParallelism() - 1))
}

interface Waiting {
  start: () => void
}

/**
 * Runs async tasks with at most `concurrency` in flight, in the order they were submitted.
 *
 * @throws TypeError at construction when `concurrency` is not an integer of at least 1 or `maxQueued`
 * not an integer of at least 0.
 *
 * @example
 * ```ts
 * const queue = new HashQueue({ concurrency: 2, maxQueued: 100 })
 * const stored = await queue.run(() => argon2.hash(password))
 * // with 100 tasks already waiting, run() rejects at once with BusyError
 * ```
 */
export class HashQueue {
  /** Most tasks running at once. */
  readonly concurrency: number
  /** Most tasks waiting for a slot. */
  readonly maxQueued: number
  #active = 0
  #waiting: Waiting[] = []

  constructor(options: HashQueueOptions = {}) {
    const { concurrency = defaultHashConcurrency(), maxQueued = 1000 } = options
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`concurrency must be an integer of at least 1, got ${concurrency}`)
    }
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new TypeError(`maxQueued must be an integer of at least 0, got ${maxQueued}`)
    }
    this.concurrency = concurrency
    this.maxQueued = maxQueued
  }

  /** Tasks waiting for a slot. */
  get pending(): number {
    return this.#waiting.length
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active
  }

  /**
   * Run `task` when a slot is free, after every task submitted before it.
   *
   * @returns what `task` resolves to; rejects with what it throws or rejects with.
   * @throws BusyError (as a rejection, at once) when `maxQueued` tasks are already waiting.
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.concurrency) return this.#start(task)
    if (this.#waiting.length >= this.maxQueued) return Promise.reject(new BusyError())
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ start: () => this.#start(task).then(resolve, reject) })
    })
  }

  async #start<T>(task: () => Promise<T>): Promise<T> {
    this.#active++
    try {
      return await task()
    } finally {
      this.#active--
      this.#waiting.shift()?.start()
    }
  }
}
