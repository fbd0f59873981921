/**
 * The roles example, the counterpart of litestar-users' `examples/with_roles.py`: the admin routes
 * behind `rolesAccepted('admin')` (the plugin's default), a default role for every new user, and routes of
 * the application's own guarded by roles, once as a preHandler and once through route `config`.
 *
 *   USERS_SECRET=... npx tsx examples/with-roles.ts
 *   USERS_SECRET=... DATABASE_URL=sqlite:data/with-roles.db npx tsx examples/create-admin.ts you@example.com
 *
 * Environment: `USERS_SECRET` (required), `DATABASE_URL` (default `sqlite:data/with-roles.db`), `HOST`,
 * `PORT` (default `127.0.0.1:3000`), `BASE_URL` (default `http://HOST:PORT`). In an application, import
 * from `fastify-users`, `fastify-users/fastify` and `fastify-users/mail` instead of `../src/...`.
 *
 * @module
 */
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely, Migration } from 'kysely'
import { fastifyUsers, rolesAccepted } from '../src/fastify/index.js'
import { RoleExistsError } from '../src/index.js'
import { ConsoleMailer } from '../src/mail/index.js'

const userFields = {
  displayName: { type: 'string', maxLength: 100 },
}

const migrations: Record<string, Migration> = {
  '2026-01-01-display-name': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
    },
  },
}

/** Options of {@link build}; each falls back to the environment. */
export interface BuildOptions {
  databaseUrl?: string
  secret?: string
  baseUrl?: string
}

function defaultBaseUrl(): string {
  return `http://${process.env.HOST || '127.0.0.1'}:${process.env.PORT || '3000'}`
}

/**
 * Builds the example application, migrated and with its roles seeded, not listening.
 *
 * @example
 * ```ts
 * const app = await build({ databaseUrl: 'sqlite::memory:', secret })
 * ```
 */
export async function build(options: BuildOptions = {}): Promise<FastifyInstance> {
  const secret = options.secret ?? process.env.USERS_SECRET
  if (!secret) throw new Error('set USERS_SECRET to a random string of at least 32 bytes')
  const baseUrl = options.baseUrl ?? process.env.BASE_URL ?? defaultBaseUrl()

  const app = Fastify({ logger: { level: 'warn' } })
  // Awaited, so that the plugin's guards see every route declared after it.
  await app.register(fastifyUsers, {
    secret,
    database: options.databaseUrl ?? process.env.DATABASE_URL ?? 'sqlite:data/with-roles.db',
    migrate: true,
    migrations,
    userFields,
    // Every registered user gets this role; it must exist first (seeded below).
    defaultRoles: ['member'],
    // The built-in senders mail through this mailer; the console one prints one line per mail.
    mailer: new ConsoleMailer(),
    baseUrl,
    appName: 'roles example',
    cookie: { secure: new URL(baseUrl).protocol === 'https:' },
    // The admin routes are guarded by rolesAccepted('admin') by default; spelled out here to show where.
    // A group without a guard is refused at startup unless it says guards: 'public'.
    routes: {
      userManagement: { guards: [rolesAccepted('admin')] },
      roleManagement: { guards: [rolesAccepted('admin')] },
    },
  })

  // Roles are data, not configuration: seed the ones the application relies on. Another instance may
  // seed them at the same moment; the unique index decides, and the loser carries on.
  try {
    if (!(await app.users.getRoleByName('member'))) {
      await app.users.addRole({ name: 'member', description: 'Every registered user' })
    }
  } catch (err) {
    if (!(err instanceof RoleExistsError)) throw err
  }

  // Admins only, with the guard as a preHandler.
  app.get('/reports', { preHandler: rolesAccepted('admin') }, async (request) => ({
    report: 'numbers only admins see',
    for: request.user?.email,
  }))

  // Members or admins, with the guard in the route config: the plugin attaches it.
  app.get('/members', { config: { rolesAccepted: ['member', 'admin'] } }, async (request) => ({
    message: `Welcome, ${request.user?.email}`,
    roles: request.user?.roles.map((r) => r.name),
  }))
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await build()
  const host = process.env.HOST || '127.0.0.1'
  await app.listen({ host, port: Number(process.env.PORT || 3000) })
  const origin = `http://${host}:${(app.server.address() as AddressInfo).port}`
  console.log(`roles example listening on ${origin}, docs at ${origin}/docs`)
}
