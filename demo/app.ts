/**
 * The demo application: the fastify-users plugin with every route group on, one custom user field
 * (`displayName`) with the migration that adds its column, and the plugin's pages for the mailed links.
 * `demo/server.ts` reads the environment and starts it.
 *
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely, Migration } from 'kysely'
import type { AuthBackendName } from '../src/auth/auth-backend.js'
import {
  fastifyUsers,
  fastifyUsersFrameworkErrors,
  fastifyUsersLogSerializers,
} from '../src/fastify/index.js'
import type { Mailer } from '../src/mail/index.js'

/** What the demo is built from; `demo/server.ts` fills it from the environment. */
export interface DemoConfig {
  /** A `DATABASE_URL`, for example `sqlite:data/demo.db`. */
  databaseUrl: string
  /** At least 32 bytes. */
  secret: string
  authBackend: AuthBackendName
  /** The public origin, for the links in mails. */
  baseUrl: string
  /** Whether cookies get `Secure` and the `__Host-` prefix. */
  cookieSecure: boolean
  mailer: Mailer
  /** Pino level of the Fastify logger. */
  logLevel: string
}

/**
 * The demo's one custom user field. Declared once, it is accepted at registration and by
 * `PATCH /users/me`, returned everywhere a user is, editable by admins, and described in the docs.
 */
export const userFields = {
  displayName: { type: 'string', maxLength: 100 },
}

/** The demo's own migration: the column of `displayName`. It runs after the library's migrations. */
export const migrations: Record<string, Migration> = {
  '2026-01-01-display-name': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
    },
  },
}

/**
 * Builds the demo application, migrated and ready, not listening.
 *
 * @example
 * ```ts
 * const app = await buildDemo({ databaseUrl: 'sqlite:data/demo.db', secret, authBackend: 'session',
 *   baseUrl: 'http://127.0.0.1:3000', cookieSecure: false, mailer: new ConsoleMailer(), logLevel: 'warn' })
 * await app.listen({ port: 3000 })
 * ```
 */
export async function buildDemo(config: DemoConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel, serializers: fastifyUsersLogSerializers },
    frameworkErrors: fastifyUsersFrameworkErrors,
  })
  await app.register(fastifyUsers, {
    secret: config.secret,
    database: config.databaseUrl,
    migrate: true,
    migrations,
    authBackend: config.authBackend,
    userFields,
    mailer: config.mailer,
    baseUrl: config.baseUrl,
    appName: 'fastify-users demo',
    cookie: { secure: config.cookieSecure },
    openapi: { title: 'fastify-users demo' },
    // The mailed links' pages, and a login page wherever the backend sets a cookie (it needs one).
    pages: config.authBackend === 'jwt' ? true : { login: { next: '/users/me' } },
  })
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'))
  return app
}
