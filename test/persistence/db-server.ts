/**
 * A real server process for the outage and multi-process tests: the plugin on `DATABASE_URL`, the JWT
 * backend (so a client needs no cookie handling), verification off, per-IP limits off, a `display_name` custom field, and
 * no mailer. Listens on 127.0.0.1 and prints `listening <port>`; exits on SIGTERM. A crash (an unhandled
 * `error` event of a driver, say) shows up to the test as an exit.
 *
 * Environment: `DATABASE_URL` (required), `CONNECT_TIMEOUT_MS` (optional), `MIGRATE` (`0` to skip).
 */
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { fastifyUsers } from '../../src/fastify/index.js'

const url = process.env.DATABASE_URL
if (!url) throw new Error('DATABASE_URL is required')

const app = Fastify({ logger: { level: 'fatal' } })
await app.register(fastifyUsers, {
  secret: 'db-server-test-secret-0123456789-abcdefghijklmnop',
  database: url,
  connectTimeoutMs: process.env.CONNECT_TIMEOUT_MS ? Number(process.env.CONNECT_TIMEOUT_MS) : undefined,
  migrate: process.env.MIGRATE !== '0',
  authBackend: 'jwt',
  requireVerificationOnRegistration: false,
  loginThrottle: false,
  // The load of these tests comes from one address, far past any per-IP limit; they test the database.
  rateLimit: false,
  userFields: { displayName: { type: 'string', maxLength: 100 } },
  migrations: {
    '0001-display-name': {
      up: async (db) => {
        await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
      },
    },
  },
  cookie: { secure: false },
})
await app.listen({ host: '127.0.0.1', port: 0 })
console.log(`listening ${(app.server.address() as AddressInfo).port}`)
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
