/**
 * What the benchmark's orchestrator and its servers share: the fixed credentials, and how a server
 * announces its port and shuts down.
 *
 * A server is started as `node --import tsx bench/servers/<name>.ts` with `PORT=0`; when it listens it
 * prints one JSON line `{"port":N}` on stdout, which the orchestrator waits for. SIGTERM closes it.
 *
 * @module
 */

/** The plugin's signing secret in every benchmark server (at least 32 bytes). */
export const BENCH_SECRET = 'fastify-users-benchmark-secret-not-for-production-0123456789'

/** The password of every seeded user and of every registration. */
export const BENCH_PASSWORD = 'correct horse battery staple'

/** The user scenarios 1 to 4 log in as. */
export const BENCH_LOGIN_EMAIL = 'bench-user@example.com'

/** The email of the `i`-th seeded user (scenario 5 logs in as random ones). */
export function seededEmail(i: number): string {
  return `user${i}@bench.test`
}

/** Reads a required environment variable of a benchmark server. */
export function requireEnv(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`bench server: environment variable ${name} is required`)
  return value
}

/** Prints the port line the orchestrator waits for. */
export function announcePort(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`)
}

/**
 * Closes the server on SIGTERM or SIGINT (or when stdin ends, under the orchestrator), then exits;
 * exits anyway after 3 s.
 */
export function closeOnSignal(close: () => Promise<unknown>): void {
  let closing = false
  const stop = () => {
    if (closing) return
    closing = true
    setTimeout(() => process.exit(0), 3000).unref()
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // The orchestrator holds our stdin (and says so): if it dies without killing us, stdin ends and we
  // stop too, so no server outlives a crashed benchmark.
  if (process.env.BENCH_WATCH_STDIN === '1') {
    process.stdin.on('end', stop)
    process.stdin.on('error', stop)
    process.stdin.resume()
  }
}
