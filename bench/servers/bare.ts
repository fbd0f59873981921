/**
 * Benchmark server: a bare Fastify 5 route, the ceiling for `GET /users/me`. It answers the same path
 * with a JSON object of the same size as the plugin's `/users/me` body (the orchestrator checks the sizes
 * match) and does nothing else: no cookie, no token, no database, no schema.
 *
 * Environment: `BENCH_BODY` (the JSON to answer; default: a user-shaped object of the usual size),
 * `PORT` (0 picks a free one).
 *
 * @module
 */
import Fastify from 'fastify'
import { announcePort, BENCH_LOGIN_EMAIL, closeOnSignal } from '../common.js'

const DEFAULT_BODY = {
  id: '019a0000-0000-7000-8000-000000000000',
  email: BENCH_LOGIN_EMAIL,
  isActive: true,
  isVerified: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  pendingEmail: null,
  roles: [],
}

const body: unknown = process.env.BENCH_BODY ? JSON.parse(process.env.BENCH_BODY) : DEFAULT_BODY

const app = Fastify({ logger: false })
app.get('/users/me', async () => body)
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('bench server: no TCP address')
closeOnSignal(() => app.close())
announcePort(address.port)
