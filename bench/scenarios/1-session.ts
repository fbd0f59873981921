/**
 * Scenario 1: `GET /users/me` with a session cookie, on SQLite and PostgreSQL, against the bare route
 * and better-auth's get-session.
 *
 * @module
 */
import { config, oneInstance } from '../lib/config.js'
import { betterAuthSession } from '../lib/prepare.js'
import type { Scenario } from '../lib/scenario.js'
import { betterAuth, fastifyUsers, getMe, type Series } from '../lib/series.js'
import { databases, dbName } from './databases.js'

export const sessionScenario: Scenario = {
  number: 1,
  series() {
    const list: Series[] = [
      fastifyUsers('sqlite-session', [1], {
        database: { kind: 'sqlite' },
        backend: 'session',
        users: config.smallUsers,
        login: true,
        measures: [getMe('fastify-users, session, SQLite')],
      }),
      betterAuth('ba-session', [1], betterAuthSession, [
        getMe('better-auth get-session, SQLite', '/api/auth/get-session'),
      ]),
    ]
    if (config.postgres)
      list.push(
        fastifyUsers('pg-session', oneInstance === 'pg' ? [1, 7] : [1], {
          database: { kind: 'postgres', name: 'main' },
          backend: 'session',
          users: config.smallUsers,
          login: true,
          measures: [getMe('fastify-users, session, PostgreSQL')],
        }),
      )
    return list
  },
  tables: () => [
    {
      title: `Scenario 1: GET /users/me with a session cookie (${config.connections.get} connections)`,
      rows: ['bare/get', 'sqlite-session/get', 'pg-session/get', 'ba-session/get'],
    },
  ],
  ratios(r) {
    // A PostgreSQL check pays a round trip the bare route does not, hence a lower target.
    const target = { sqlite: 0.4, pg: 0.3 }
    for (const db of databases()) {
      r.divide(
        `1-bare-${db}`,
        `1. session GET ÷ bare route (${dbName[db]})`,
        `${db}-session/get`,
        'bare/get',
        '>=',
        target[db],
      )
      r.divide(
        `1-ba-${db}`,
        `1. session GET ÷ better-auth get-session (${dbName[db]})`,
        `${db}-session/get`,
        'ba-session/get',
        '>=',
        20,
      )
    }
  },
}
