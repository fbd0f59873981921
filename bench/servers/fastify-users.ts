/**
 * Benchmark server: the fastify-users plugin as an application would register it, on SQLite or
 * PostgreSQL, with the auth backend the orchestrator asks for.
 *
 * Environment: `BENCH_DATABASE_URL` (`sqlite:/path.db` or `postgres://...`), `BENCH_AUTH_BACKEND`
 * (`session`, `jwt` or `jwt-cookie`; default `session`), `PORT` (0 picks a free one), and for
 * investigations `BENCH_HASH_CONCURRENCY` (the `passwordHashing.concurrency` option; default: the
 * library's), and `BENCH_LOGIN_FREE_ATTEMPTS` (the throttle's `freeAttempts`; default: the library's 5).
 * `BENCH_REDIS_URL`, when set, is passed as the plugin's `redis` option, with `BENCH_REDIS_PREFIX` as
 * `redisPrefix`. `BENCH_AUTH_CACHE`: `default` (the plugin's default: on with PostgreSQL or Redis),
 * `single-instance` (`cache: { singleInstance: true }`, for SQLite, whose file one process serves) or
 * `off` (`cache: false`). The orchestrator checks after each login that the cache is as it asked.
 *
 * Registration is set to need no verification, so `POST /register` answers 201 and the new user can log
 * in; cookies are not `Secure`, since the load generator speaks plain HTTP on 127.0.0.1.
 *
 * @module
 */
import Fastify from 'fastify'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import { fastifyUsers } from '../../src/fastify/index.js'
import { announcePort, BENCH_SECRET, closeOnSignal, requireEnv } from '../common.js'

const database = requireEnv('BENCH_DATABASE_URL')
const authBackend = (process.env.BENCH_AUTH_BACKEND ?? 'session') as AuthBackendName
const hashConcurrency = process.env.BENCH_HASH_CONCURRENCY
const freeAttempts = process.env.BENCH_LOGIN_FREE_ATTEMPTS
const redis = process.env.BENCH_REDIS_URL
const redisPrefix = process.env.BENCH_REDIS_PREFIX
const cacheMode = process.env.BENCH_AUTH_CACHE ?? 'default'
const cache =
  cacheMode === 'off' ? false : cacheMode === 'single-instance' ? { singleInstance: true } : undefined

const app = Fastify({ logger: false })
await app.register(fastifyUsers, {
  secret: BENCH_SECRET,
  database,
  migrate: true,
  authBackend,
  requireVerificationOnRegistration: false,
  cookie: { secure: false },
  // The per-IP limits would answer 429 to the load generator's single address (off for better-auth too).
  rateLimit: false,
  ...(hashConcurrency ? { passwordHashing: { concurrency: Number(hashConcurrency) } } : {}),
  ...(freeAttempts ? { loginThrottle: { freeAttempts: Number(freeAttempts) } } : {}),
  ...(redis ? { redis, ...(redisPrefix ? { redisPrefix } : {}) } : {}),
  ...(cache !== undefined ? { cache } : {}),
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('bench server: no TCP address')
closeOnSignal(() => app.close())
announcePort(address.port)
