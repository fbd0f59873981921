/**
 * Benchmark server: better-auth 1.x, set up as its documentation shows for email and password on SQLite
 * (`database: new Database(file)` from better-sqlite3, `emailAndPassword: { enabled: true }`), its schema
 * created at start with `getMigrations(...).runMigrations()` (what `npx @better-auth/cli migrate` runs),
 * and mounted with `toNodeHandler` on `node:http`.
 *
 * Only what a benchmark must change is changed: rate limiting off (it would answer 429 to a load
 * generator; fastify-users has no built-in rate limiter either) and telemetry off (no network here).
 *
 * Environment: `BENCH_SQLITE_FILE` (the database file), `PORT` (0 picks a free one).
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { toNodeHandler } from 'better-auth/node'
import Database from 'better-sqlite3'
import { announcePort, BENCH_SECRET, closeOnSignal, requireEnv } from '../common.js'

const file = requireEnv('BENCH_SQLITE_FILE')

let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
  res.statusCode = 503
  res.end()
}
const server = createServer((req, res) => handler(req, res))
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))
const address = server.address()
if (address === null || typeof address === 'string') throw new Error('bench server: no TCP address')

const auth = betterAuth({
  database: new Database(file),
  baseURL: `http://127.0.0.1:${address.port}`,
  secret: BENCH_SECRET,
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
})
const { runMigrations } = await getMigrations(auth.options)
await runMigrations()
handler = toNodeHandler(auth)

closeOnSignal(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
)
announcePort(address.port)
