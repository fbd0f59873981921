/**
 * Scenario 3: `POST /login` (existing users) and `POST /register` (unique emails) against the raw
 * argon2id rate and better-auth's sign-in and sign-up.
 *
 * Logins are of random users among the 1,000 seeded ones, not of one user: the login throttle (on by
 * default) lets at most `freeAttempts` (5) attempts of one identifier be in flight before their
 * outcome is known, so more concurrent logins of one identifier wait or are refused, by design, as
 * parallel guesses would be. The one-user row runs with 100 free attempts (the ASVS ceiling) to measure
 * the login path, the throttle's queries included.
 *
 * @module
 */
import { config, oneInstance } from '../lib/config.js'
import { betterAuthUser } from '../lib/prepare.js'
import type { Scenario } from '../lib/scenario.js'
import {
  betterAuth,
  fastifyUsers,
  login,
  loginBody,
  postLoad,
  register,
  type Series,
  uniqueRegistrations,
} from '../lib/series.js'
import { databases, dbName } from './databases.js'

export const loginScenario: Scenario = {
  number: 3,
  series() {
    const sqlite = { kind: 'sqlite' } as const
    const list: Series[] = [
      fastifyUsers('sqlite-login', [3], {
        database: sqlite,
        backend: 'session',
        users: config.smallUsers,
        measures: [login('fastify-users POST /login (random users), SQLite')],
      }),
      fastifyUsers('sqlite-login-one', [3], {
        database: sqlite,
        backend: 'session',
        users: config.smallUsers,
        env: { BENCH_LOGIN_FREE_ATTEMPTS: '100' },
        measures: [
          postLoad(
            'login',
            'fastify-users POST /login (one user, 100 free attempts), SQLite',
            '/login',
            () => loginBody,
          ),
        ],
      }),
      fastifyUsers('sqlite-register', [3], {
        database: sqlite,
        backend: 'session',
        users: config.smallUsers,
        measures: [register('fastify-users POST /register, SQLite')],
      }),
      betterAuth('ba-sign-in', [3], betterAuthUser, [
        postLoad(
          'login',
          'better-auth sign-in (one user), SQLite',
          '/api/auth/sign-in/email',
          () => loginBody,
        ),
      ]),
      betterAuth('ba-sign-up', [3], undefined, [
        postLoad('register', 'better-auth sign-up, SQLite', '/api/auth/sign-up/email', ({ tag }) =>
          uniqueRegistrations(tag, { name: 'Bench User' }),
        ),
      ]),
    ]
    if (config.postgres) {
      const pg = { kind: 'postgres', name: 'main' } as const
      list.push(
        fastifyUsers('pg-login', oneInstance === 'pg' ? [3, 7] : [3], {
          database: pg,
          backend: 'session',
          users: config.smallUsers,
          measures: [login('fastify-users POST /login (random users), PostgreSQL')],
        }),
        fastifyUsers('pg-register', [3], {
          database: pg,
          backend: 'session',
          users: config.smallUsers,
          measures: [register('fastify-users POST /register, PostgreSQL')],
        }),
      )
    }
    return list
  },
  tables: () => [
    {
      title: `Scenario 3: POST /login (existing users) and POST /register (unique emails), ${config.connections.hashing} connections`,
      rows: [
        'hash/hash',
        'hash/verify',
        'sqlite-login/login',
        'sqlite-login-one/login',
        'sqlite-register/register',
        'pg-login/login',
        'pg-register/register',
        'ba-sign-in/login',
        'ba-sign-up/register',
      ],
    },
  ],
  ratios(r) {
    for (const db of databases()) {
      r.divide(
        `3-login-${db}`,
        `3. login ÷ raw hash rate (${dbName[db]})`,
        `${db}-login/login`,
        'hash/hash',
        '>=',
        0.85,
      )
      r.divide(
        `3-register-${db}`,
        `3. registration ÷ raw hash rate (${dbName[db]})`,
        `${db}-register/register`,
        'hash/hash',
        '>=',
        0.85,
      )
    }
    r.divide(
      '3-login-one-sqlite',
      '3. login of one user ÷ raw hash rate (SQLite)',
      'sqlite-login-one/login',
      'hash/hash',
      '>=',
      0.85,
    )
    r.divide(
      '3-login-ba',
      '3. login ÷ better-auth sign-in (SQLite)',
      'sqlite-login/login',
      'ba-sign-in/login',
      null,
      null,
    )
    r.divide(
      '3-register-ba',
      '3. registration ÷ better-auth sign-up (SQLite)',
      'sqlite-register/register',
      'ba-sign-up/register',
      null,
      null,
    )
  },
}
