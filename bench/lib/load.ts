/**
 * One load run with autocannon, from the orchestrator's process against a server in another process.
 * Latencies are collected from autocannon's per-response event at full resolution (its own histogram
 * rounds to whole milliseconds); only 2xx responses count, for the rate as for the latencies.
 *
 * @module
 */
import autocannon from 'autocannon'

/** What to send. */
export interface LoadSpec {
  /**
   * `http://127.0.0.1:<port>`, or several (one per instance of a multi-process scenario): autocannon spreads
   * the connections over them round-robin, so keep `connections` a multiple of their number.
   */
  base: string | readonly string[]
  path: string
  method?: 'GET' | 'POST'
  connections: number
  durationSeconds: number
  /** Stop after this many requests instead of after `durationSeconds` (every response is awaited). */
  amount?: number
  headers?: Record<string, string>
  /** A fixed JSON body, or a function making one per request (unique emails, random users). */
  body?: string | (() => string)
  /** Reads the server's CPU seconds so far; sampled before and after the load. */
  cpuSeconds?: () => number
}

/** What came back. */
export interface LoadResult {
  /** 2xx responses per second. */
  rps: number
  p50Ms: number
  p99Ms: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  durationSeconds: number
  statusCodes: Record<string, number>
  /** Server CPU time (all threads) per 2xx response, in microseconds; NaN without `cpuSeconds`. */
  cpuUsPerRequest: number
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index]!
}

/** Runs one load and returns its numbers. Bounded by `durationSeconds` (plus autocannon's 10 s timeout). */
export async function load(spec: LoadSpec): Promise<LoadResult> {
  const headers: Record<string, string> = { ...spec.headers }
  if (spec.body !== undefined) headers['content-type'] = 'application/json'
  const request: autocannon.Request = { method: spec.method ?? 'GET', path: spec.path, headers }
  const { body } = spec
  if (typeof body === 'string') request.body = body
  if (typeof body === 'function') request.setupRequest = (req) => ({ ...req, body: body() })

  let latencies = new Float64Array(1 << 16)
  let count = 0
  const cpuBefore = spec.cpuSeconds?.() ?? Number.NaN
  const instance = autocannon({
    url: typeof spec.base === 'string' ? spec.base : [...spec.base],
    connections: spec.connections,
    ...(spec.amount === undefined ? { duration: spec.durationSeconds } : { amount: spec.amount }),
    timeout: 10,
    requests: [request],
  })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode >= 300) return
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[count++] = responseTime
  })
  const result = await instance
  const cpuAfter = spec.cpuSeconds?.() ?? Number.NaN
  const sorted = latencies.subarray(0, count).sort()
  const statusCodes: Record<string, number> = {}
  for (const [code, { count: n }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = n
  return {
    rps: count / result.duration,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    ok: count,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    statusCodes,
    cpuUsPerRequest: count > 0 ? ((cpuAfter - cpuBefore) * 1e6) / count : Number.NaN,
  }
}
