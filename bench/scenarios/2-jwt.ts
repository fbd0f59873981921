/**
 * Scenario 2: `GET /users/me` with a Bearer JWT, on SQLite and PostgreSQL, against the bare route.
 *
 * @module
 */
import { config } from '../lib/config.js'
import type { Scenario } from '../lib/scenario.js'
import { fastifyUsers, getMe, type Series } from '../lib/series.js'
import { databases, dbName } from './databases.js'

export const jwtScenario: Scenario = {
  number: 2,
  series() {
    const list: Series[] = [
      fastifyUsers('sqlite-jwt', [2], {
        database: { kind: 'sqlite' },
        backend: 'jwt',
        users: config.smallUsers,
        login: true,
        measures: [getMe('fastify-users, JWT, SQLite')],
      }),
    ]
    if (config.postgres)
      list.push(
        fastifyUsers('pg-jwt', [2], {
          database: { kind: 'postgres', name: 'main' },
          backend: 'jwt',
          users: config.smallUsers,
          login: true,
          measures: [getMe('fastify-users, JWT, PostgreSQL')],
        }),
      )
    return list
  },
  tables: () => [
    {
      title: `Scenario 2: GET /users/me with a JWT (${config.connections.get} connections)`,
      rows: ['bare/get', 'sqlite-jwt/get', 'pg-jwt/get'],
    },
  ],
  ratios(r) {
    const target = { sqlite: 0.5, pg: 0.3 }
    for (const db of databases())
      r.divide(
        `2-bare-${db}`,
        `2. JWT GET ÷ bare route (${dbName[db]})`,
        `${db}-jwt/get`,
        'bare/get',
        '>=',
        target[db],
      )
  },
}
