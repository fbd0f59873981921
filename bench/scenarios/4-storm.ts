/**
 * Scenario 4: a login storm (32 connections) while a 10-connection probe measures the session check,
 * beside the probe alone; the same for better-auth.
 *
 * @module
 */
import { config } from '../lib/config.js'
import { betterAuthSession } from '../lib/prepare.js'
import type { Scenario } from '../lib/scenario.js'
import { betterAuth, fastifyUsers, loginBody, randomLogins, storm } from '../lib/series.js'

export const stormScenario: Scenario = {
  number: 4,
  series: () => [
    fastifyUsers('sqlite-storm', [4], {
      database: { kind: 'sqlite' },
      backend: 'session',
      users: config.smallUsers,
      login: true,
      measures: [
        storm('/users/me', '/login', randomLogins(config.smallUsers), {
          quiet: `fastify-users GET /users/me alone (${config.connections.stormProbe} conn.)`,
          probe: `fastify-users GET /users/me during the login storm (${config.connections.stormProbe} conn.)`,
          storm: `fastify-users POST /login storm, random users (${config.connections.stormLogin} conn.)`,
        }),
      ],
    }),
    // The same storm under Node's default flags: what the recommended flags save, in the same run.
    fastifyUsers('sqlite-storm-node-defaults', [4], {
      database: { kind: 'sqlite' },
      backend: 'session',
      users: config.smallUsers,
      login: true,
      nodeFlags: '',
      measures: [
        storm('/users/me', '/login', randomLogins(config.smallUsers), {
          quiet: `fastify-users GET /users/me alone, Node's default flags (${config.connections.stormProbe} conn.)`,
          probe: `fastify-users GET /users/me during the login storm, Node's default flags (${config.connections.stormProbe} conn.)`,
          storm: `fastify-users POST /login storm, random users, Node's default flags (${config.connections.stormLogin} conn.)`,
        }),
      ],
    }),
    betterAuth('ba-storm', [4], betterAuthSession, [
      storm('/api/auth/get-session', '/api/auth/sign-in/email', loginBody, {
        quiet: `better-auth get-session alone (${config.connections.stormProbe} conn.)`,
        probe: `better-auth get-session during the sign-in storm (${config.connections.stormProbe} conn.)`,
        storm: `better-auth sign-in storm, one user (${config.connections.stormLogin} conn.)`,
      }),
    ]),
  ],
  tables: () => [
    {
      title: 'Scenario 4: a login storm while a second client measures the session check',
      rows: [
        'sqlite-storm/quiet',
        'sqlite-storm/probe',
        'sqlite-storm/storm',
        'sqlite-storm-node-defaults/quiet',
        'sqlite-storm-node-defaults/probe',
        'sqlite-storm-node-defaults/storm',
        'ba-storm/quiet',
        'ba-storm/probe',
        'ba-storm/storm',
      ],
    },
  ],
  ratios(r) {
    r.p99('4-p99', '4. GET /users/me p99 during the login storm', 'sqlite-storm/probe', 20)
    r.p99('4-p99-ba', '4. better-auth get-session p99 during the sign-in storm', 'ba-storm/probe', null)
    r.divide(
      '4-keep',
      '4. session checks kept during the storm (storm ÷ alone)',
      'sqlite-storm/probe',
      'sqlite-storm/quiet',
      null,
      null,
    )
    r.divide(
      '4-keep-ba',
      '4. better-auth checks kept during the storm (storm ÷ alone)',
      'ba-storm/probe',
      'ba-storm/quiet',
      null,
      null,
    )
  },
}
