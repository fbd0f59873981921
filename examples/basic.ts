/**
 * The basic example, the counterpart of litestar-users' `examples/basic.py`: custom user fields with
 * their migration, and a user service subclass whose hooks count logins and whose senders print the
 * links instead of mailing them.
 *
 *   USERS_SECRET=$(node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))") \
 *     npx tsx examples/basic.ts
 *
 * Environment: `USERS_SECRET` (required), `DATABASE_URL` (default `sqlite:data/basic.db`), `HOST`, `PORT`
 * (default `127.0.0.1:3000`), `BASE_URL` (default `http://HOST:PORT`). In an application, import from
 * `fastify-users` and `fastify-users/fastify` instead of `../src/...`.
 *
 * @module
 */
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely, Migration } from 'kysely'
import { fastifyUsers, requireUser } from '../src/fastify/index.js'
import { BaseUserService, type PublicUser, type UserServiceOptions, type UserWith } from '../src/index.js'
import { composeUserMail, formatMailLine, type MailLinkOptions, type MailMessage } from '../src/mail/index.js'

/**
 * The custom fields, declared once: they flow through registration, `/users/me`, the admin routes and the
 * docs, and the user type below is derived from them (`as const` keeps their types literal).
 */
const userFields = {
  displayName: { type: 'string', maxLength: 100 },
  loginCount: { type: 'integer', minimum: 0 },
} as const

/** The user of this application: the built-in fields plus the two above (`null` when unset). */
export type AppUser = UserWith<typeof userFields>

/** Their columns, in the application's own migration (run after the library's). */
const migrations: Record<string, Migration> = {
  '2026-01-01-basic-fields': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
      await db.schema
        .alterTable('users')
        .addColumn('login_count', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
    },
  },
}

/** The application's user service: every hook and sender of `BaseUserService` can be overridden. */
class UserService extends BaseUserService<AppUser> {
  readonly #links: MailLinkOptions

  constructor(options: UserServiceOptions<AppUser>) {
    super(options)
    // The plugin passes its `baseUrl` and `appName` here, mailer or not.
    this.#links = options.mail ?? { baseUrl: 'http://127.0.0.1:3000' }
  }

  override async postLoginHook(user: AppUser): Promise<void> {
    await this.updateUser(user.id, { loginCount: (user.loginCount ?? 0) + 1 })
  }

  // A real application hands these to its mail provider; the example prints one line per mail.
  override async sendVerificationToken(user: AppUser, token: string): Promise<void> {
    this.#print(composeUserMail('verification', { to: user.email, token }, this.#links))
  }

  override async sendPasswordResetToken(user: AppUser, token: string): Promise<void> {
    this.#print(composeUserMail('password-reset', { to: user.email, token }, this.#links))
  }

  #print(mail: MailMessage): void {
    console.log(formatMailLine(mail))
  }
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
 * Builds the example application, migrated and not listening.
 *
 * @example
 * ```ts
 * const app = await build({ databaseUrl: 'sqlite::memory:', secret })
 * const response = await app.inject({ url: '/openapi.json' })
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
    database: options.databaseUrl ?? process.env.DATABASE_URL ?? 'sqlite:data/basic.db',
    migrate: true,
    migrations,
    userFields,
    // Users cannot set their own login count, neither at registration nor through PATCH /users/me.
    adminOnlyFields: ['loginCount'],
    userServiceClass: UserService,
    baseUrl,
    appName: 'basic example',
    // Browsers drop Secure cookies on plain http://, so they are Secure only when the site is https.
    cookie: { secure: new URL(baseUrl).protocol === 'https:' },
  })

  // A route of the application's own, for any logged-in user.
  app.get('/hello', { preHandler: requireUser() }, async (request) => {
    // An application registers AppUser once (docs/typescript.md) and needs no cast here; this example is
    // compiled together with the library's own sources, which keep the default types.
    const user = request.user as PublicUser<AppUser>
    return { message: `Hello, ${user.displayName ?? user.email}! This is login number ${user.loginCount}.` }
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await build()
  const host = process.env.HOST || '127.0.0.1'
  await app.listen({ host, port: Number(process.env.PORT || 3000) })
  const origin = `http://${host}:${(app.server.address() as AddressInfo).port}`
  console.log(`basic example listening on ${origin}, docs at ${origin}/docs`)
}
