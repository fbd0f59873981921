/**
 * Scenario 6: PostgreSQL + Redis (the plugin's `redis` option: sessions, deny-list and throttle
 * counters in Redis, the cache's invalidations over Redis pub/sub), against the bare route and the raw
 * hash rate. Runs with `FASTIFY_USERS_BENCH_REDIS_URL` and `FASTIFY_USERS_BENCH_POSTGRES_URL`; each
 * run checks, after its login, that the server's session is in Redis.
 *
 * @module
 */
import { config, redisNote } from '../lib/config.js'
import type { Scenario } from '../lib/scenario.js'
import { fastifyUsers, getMe, login, type Series } from '../lib/series.js'

const pg = { kind: 'postgres', name: 'main' } as const

export const redisScenario: Scenario = {
  number: 6,
  skipped: () => redisNote,
  series(): Series[] {
    if (redisNote !== null) return []
    return [
      fastifyUsers('redis-session', [6, 7], {
        database: pg,
        backend: 'session',
        users: config.smallUsers,
        redis: true,
        login: true,
        measures: [getMe('fastify-users, session, PostgreSQL + Redis')],
      }),
      fastifyUsers('redis-jwt', [6], {
        database: pg,
        backend: 'jwt',
        users: config.smallUsers,
        redis: true,
        login: true,
        measures: [getMe('fastify-users, JWT, PostgreSQL + Redis')],
      }),
      fastifyUsers('redis-login', [6, 7], {
        database: pg,
        backend: 'session',
        users: config.smallUsers,
        redis: true,
        measures: [login('fastify-users POST /login (random users), PostgreSQL + Redis')],
      }),
    ]
  },
  tables: () => [
    {
      title: `Scenario 6: PostgreSQL + Redis (GETs: ${config.connections.get} connections; logins: ${config.connections.hashing})`,
      rows: ['bare/get', 'redis-session/get', 'redis-jwt/get', 'hash/hash', 'redis-login/login'],
    },
  ],
  ratios(r) {
    if (redisNote !== null) return
    r.divide(
      '6-session',
      '6. session GET ÷ bare route (PostgreSQL + Redis)',
      'redis-session/get',
      'bare/get',
      '>=',
      0.3,
    )
    r.divide('6-jwt', '6. JWT GET ÷ bare route (PostgreSQL + Redis)', 'redis-jwt/get', 'bare/get', '>=', 0.3)
    r.divide(
      '6-login',
      '6. login ÷ raw hash rate (PostgreSQL + Redis)',
      'redis-login/login',
      'hash/hash',
      '>=',
      0.85,
    )
  },
}
