/**
 * Scenario 7: two instances on the same PostgreSQL (+ Redis when the run has it) behind one round-robin
 * client, beside one instance of the same configuration measured in the same run (scenario 6's series
 * with Redis, else scenarios 1 and 3 on PostgreSQL). CPU µs per request is summed over both processes;
 * the peak RSS is the larger one's.
 *
 * @module
 */
import { config, oneInstance, redisNote } from '../lib/config.js'
import type { Scenario } from '../lib/scenario.js'
import { fastifyUsers, getMe, login, type Series } from '../lib/series.js'

export const instancesScenario: Scenario = {
  number: 7,
  skipped: () => (config.postgres ? null : 'needs FASTIFY_USERS_BENCH_POSTGRES_URL'),
  series(): Series[] {
    if (!config.postgres) return []
    const redis = redisNote === null
    const where = redis ? 'PostgreSQL + Redis' : 'PostgreSQL'
    const pg = { kind: 'postgres', name: 'main' } as const
    return [
      fastifyUsers('x2-session', [7], {
        database: pg,
        backend: 'session',
        users: config.smallUsers,
        redis,
        instances: 2,
        login: true,
        measures: [getMe(`fastify-users, session, two instances, ${where}`)],
      }),
      fastifyUsers('x2-login', [7], {
        database: pg,
        backend: 'session',
        users: config.smallUsers,
        redis,
        instances: 2,
        measures: [login(`fastify-users POST /login (random users), two instances, ${where}`)],
      }),
    ]
  },
  tables: () => [
    {
      title:
        'Scenario 7: two instances on one database behind a round-robin client, beside one instance ' +
        '(CPU µs/req summed over both processes; peak RSS of the larger)',
      rows: [`${oneInstance}-session/get`, 'x2-session/get', `${oneInstance}-login/login`, 'x2-login/login'],
    },
  ],
  ratios(r) {
    if (!config.postgres) return
    // Informational: on a machine where the load generator and both instances share the same cores, a
    // second instance cannot add capacity; the CPU ratio says what it costs per request to be two.
    r.divide(
      '7-session',
      '7. session GET, two instances ÷ one',
      'x2-session/get',
      `${oneInstance}-session/get`,
      null,
      null,
    )
    r.divide(
      '7-login',
      '7. login, two instances ÷ one',
      'x2-login/login',
      `${oneInstance}-login/login`,
      null,
      null,
    )
  },
}
