/**
 * Scenario 5: `GET /users/me` and `POST /login` with 1,000 and with 1,000,000 users in the table, on
 * SQLite and on PostgreSQL (a database of its own for the large table).
 *
 * @module
 */
import { config } from '../lib/config.js'
import type { Scenario } from '../lib/scenario.js'
import { type Database, fastifyUsers, getMe, postLoad, randomLogins, type Series } from '../lib/series.js'
import { databases, dbName } from './databases.js'

const n = (users: number) => users.toLocaleString('en-US')

function sizeSeries(db: 'sqlite' | 'pg', size: '1k' | 'large'): Series {
  const users = size === '1k' ? config.smallUsers : config.largeUsers
  const database: Database =
    db === 'sqlite' ? { kind: 'sqlite' } : { kind: 'postgres', name: size === '1k' ? 'main' : 'large' }
  return fastifyUsers(`${db}-${size}`, [5], {
    database,
    backend: 'session',
    users,
    login: true,
    measures: [
      getMe(`GET /users/me, ${n(users)} users, ${dbName[db]}`),
      postLoad('login', `POST /login (random users), ${n(users)} users, ${dbName[db]}`, '/login', () =>
        randomLogins(users),
      ),
    ],
  })
}

export const tableSizeScenario: Scenario = {
  number: 5,
  series: () => databases().flatMap((db) => [sizeSeries(db, '1k'), sizeSeries(db, 'large')]),
  tables: () => [
    {
      title: `Scenario 5: ${n(config.smallUsers)} vs ${n(config.largeUsers)} users in the table (session)`,
      rows: databases().flatMap((db) => [
        `${db}-1k/get`,
        `${db}-large/get`,
        `${db}-1k/login`,
        `${db}-large/login`,
      ]),
    },
  ],
  ratios(r) {
    for (const db of databases()) {
      r.divide(
        `5-get-${db}`,
        `5. GET /users/me, large ÷ 1,000 users (${dbName[db]})`,
        `${db}-large/get`,
        `${db}-1k/get`,
        '>=',
        0.9,
      )
      r.divide(
        `5-login-${db}`,
        `5. POST /login, large ÷ 1,000 users (${dbName[db]})`,
        `${db}-large/login`,
        `${db}-1k/login`,
        '>=',
        0.9,
      )
    }
  },
}
