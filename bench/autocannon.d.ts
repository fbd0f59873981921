/**
 * The part of autocannon 8's programmatic API the benchmark uses (the package ships no types, and
 * `@types/autocannon` is not a dependency).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string
      /** Called before each request; returns the request to send. */
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request
    }

    interface Options {
      url: string | string[]
      connections?: number
      duration?: number
      amount?: number
      timeout?: number
      pipelining?: number
      overallRate?: number
      method?: string
      headers?: Record<string, string>
      body?: string
      requests?: Request[]
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p99: number
    }

    interface Result {
      /** Seconds the run actually lasted. */
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      '2xx': number
      requests: Histogram
      latency: Histogram
      statusCodeStats: Record<string, { count: number }>
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance
  export = autocannon
}
