/**
 * The test harness of the HTTP suites: a Fastify app with the plugin registered on a fresh test database,
 * a recording mailer, a manual clock, and helpers to log in, create users and read tokens from mails.
 * Requests go through `app.inject` (no sockets).
 */
import assert from 'node:assert/strict'
import Fastify, {
  type FastifyInstance,
  type FastifyServerOptions,
  type InjectOptions,
  type LightMyRequestResponse,
} from 'fastify'
import type { Kysely } from 'kysely'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import type { BaseUser } from '../../src/core/user.js'
import { type FastifyUsersOptions, fastifyUsers } from '../../src/fastify/index.js'
import type { Clock } from '../../src/kernel/clock.js'
import type { MailMessage } from '../../src/mail/mailer.js'
import { tokenFromLink } from '../../src/mail/messages.js'
import type { DatabaseDialect } from '../../src/persistence/kysely/connect.js'
import type { FastifyUsersDatabase } from '../../src/persistence/kysely/database.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'

export const backends: readonly AuthBackendName[] = ['session', 'jwt', 'jwt-cookie']
export const SECRET = 'fastify-test-secret-0123456789-abcdefghijklmnop'
export const PASSWORD = 'correct horse battery staple'
export const BASE_URL = 'https://app.example.com'

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  t = Date.now()
  now(): number {
    return this.t
  }
  advance(seconds: number): void {
    this.t += seconds * 1000
  }
}

/** The database as the tests see it: the built-in tables plus the `display_name` column. */
export interface TestDb extends Omit<FastifyUsersDatabase, 'users'> {
  users: FastifyUsersDatabase['users'] & { display_name: string | null }
}

export const displayNameField = { displayName: { type: 'string', maxLength: 100 } } as const

export const displayNameMigration: NonNullable<FastifyUsersOptions['migrations']> = {
  '0001-display-name': {
    up: async (db) => {
      await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
    },
  },
}

export type BuildOptions = Partial<FastifyUsersOptions> & {
  backend: AuthBackendName
  dialect?: DatabaseDialect
  /** Called after the plugin is registered and before `ready()`, to add the application's own routes. */
  appRoutes?: (app: FastifyInstance) => void
  /** Called on the bare app before the plugin is registered, e.g. to add an `onRoute` hook that sees every route. */
  beforeRegister?: (app: FastifyInstance) => void
  /** Options of the Fastify instance (a logger, for example). */
  fastify?: FastifyServerOptions
}

/** The user as the tests see it over HTTP. */
export type UserBody = Omit<BaseUser, 'createdAt' | 'updatedAt' | 'passwordHash' | 'authVersion'> & {
  createdAt: string
  updatedAt: string
  displayName: string | null
}

export interface CreateUserInput {
  email?: string
  password?: string
  verified?: boolean
  active?: boolean
  displayName?: string | null
}

/** What a test gets. */
export interface TestApp {
  app: FastifyInstance
  db: Kysely<TestDb>
  database: TestDatabase<TestDb>
  backend: AuthBackendName
  mails: MailMessage[]
  clock: ManualClock
  /** The name of the backend's cookie, or `null` for the Bearer backend. */
  cookieName: string | null
  destroy(): Promise<void>
  /** Logs in (expects 200) and returns the headers that carry the credential. */
  login(email: string, password?: string): Promise<Record<string, string>>
  /** A verified, active user, created through `app.users.addUser`. */
  createUser(input?: CreateUserInput): Promise<{ user: BaseUser; email: string; password: string }>
  /** Creates the `admin` role if needed and assigns it. */
  makeAdmin(userId: BaseUser['id']): Promise<void>
  /** A verified admin, logged in. */
  admin(): Promise<{ user: BaseUser; email: string; headers: Record<string, string> }>
  /** Every mail sent so far to an address, after the background deliveries settled. */
  mailsTo(address: string): Promise<MailMessage[]>
  /** The token of the last mail to an address whose subject matches. */
  tokenFor(address: string, subject?: RegExp): Promise<string>
  /** `app.inject` with a JSON body. */
  request(options: InjectOptions): Promise<LightMyRequestResponse>
}

const highRate = { max: 100_000, windowSeconds: 60 }
const highRateLimits = {
  login: highRate,
  register: highRate,
  verification: highRate,
  passwordReset: highRate,
  public: highRate,
}

let counter = 0
/** A unique email address. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1
  return `${prefix}${counter}.${process.pid}.${Date.now().toString(36)}@example.com`
}

/** The token (in the fragment) of the first link in a mail. */
export function tokenFromMail(mail: MailMessage): string {
  const link = /https?:\/\/\S+/.exec(mail.text)?.[0]
  assert.ok(link, `mail "${mail.subject}" has a link`)
  const token = tokenFromLink(link)
  assert.ok(token, `the link of "${mail.subject}" has a token`)
  return token
}

/** The parsed JSON body. */
export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T
}

/** Asserts a problem+json answer with a status and a code; returns the problem. */
export function assertProblem(
  res: LightMyRequestResponse,
  status: number,
  code?: string,
): { type: string; title: string; status: number; detail: string; code: string; errors?: unknown[] } {
  assert.equal(res.statusCode, status, `status ${res.statusCode} (wanted ${status}): ${res.body}`)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  const body = json<{
    type: string
    title: string
    status: number
    detail: string
    code: string
    errors?: unknown[]
  }>(res)
  assert.equal(body.status, status)
  assert.equal(typeof body.type, 'string')
  assert.equal(typeof body.title, 'string')
  assert.equal(typeof body.detail, 'string')
  assert.equal(typeof body.code, 'string')
  if (code) assert.equal(body.code, code)
  return body
}

/** The field names a validation problem names. */
export function problemFields(res: LightMyRequestResponse): string[] {
  const body = json<{ errors?: Array<{ field: string }> }>(res)
  return (body.errors ?? []).map((e) => e.field)
}

/** The `Set-Cookie` of a name, parsed, or undefined. */
export function cookieOf(res: LightMyRequestResponse, name: string) {
  return res.cookies.find((c) => c.name === name)
}

/** Builds an app on a fresh database. Call `destroy()` in an `after` hook. */
export async function buildApp(options: BuildOptions): Promise<TestApp> {
  const { backend, dialect = 'sqlite', appRoutes, beforeRegister, fastify, ...pluginOptions } = options
  const database = await createTestDatabase<TestDb>(dialect)
  const mails: MailMessage[] = []
  const clock = new ManualClock()
  const app = Fastify(fastify)
  try {
    beforeRegister?.(app)
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: database.db as unknown as Kysely<unknown>,
      migrate: true,
      authBackend: backend,
      userFields: displayNameField,
      migrations: displayNameMigration,
      mailer: {
        async send(message) {
          mails.push(message)
        },
      },
      baseUrl: BASE_URL,
      clock,
      // On, as in production, but high: the suites send many requests from one address. The limits
      // themselves are tested in rate-limit.test.ts.
      rateLimit: { groups: highRateLimits },
      // The authentication cache on, for the suites that rerun these tests with it (auth-cache-*.test.ts).
      ...(process.env.FASTIFY_USERS_TEST_AUTH_CACHE === 'single' ? { cache: { singleInstance: true } } : {}),
      ...pluginOptions,
    })
    appRoutes?.(app)
    await app.ready()
  } catch (error) {
    await app.close().catch(() => {})
    await database.destroy()
    throw error
  }
  const secure = pluginOptions.cookie?.secure ?? true
  const prefix = secure ? '__Host-' : ''
  const cookieName =
    backend === 'session'
      ? `${prefix}fastify-users-session`
      : backend === 'jwt-cookie'
        ? `${prefix}fastify-users-token`
        : null

  // Every answer of every test is scanned: the read schema is the serializer, so no secret may leak.
  const request = async (opts: InjectOptions) => {
    const res = await app.inject(opts)
    assertNoSecrets(res)
    return res
  }

  const login = async (email: string, password = PASSWORD): Promise<Record<string, string>> => {
    const res = await request({ method: 'POST', url: '/login', payload: { email, password } })
    assert.equal(res.statusCode, 200, `login of ${email}: ${res.body}`)
    if (cookieName) {
      const cookie = cookieOf(res, cookieName)
      assert.ok(cookie, `login sets ${cookieName}`)
      return { cookie: `${cookieName}=${cookie.value}` }
    }
    const body = json<{ accessToken: string }>(res)
    return { authorization: `Bearer ${body.accessToken}` }
  }

  const createUser = async (input: CreateUserInput = {}) => {
    const email = input.email ?? uniqueEmail()
    const password = input.password ?? PASSWORD
    const user = await app.users.addUser(
      {
        email,
        password,
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
      } as Parameters<typeof app.users.addUser>[0],
      { verify: input.verified ?? true, activate: input.active ?? true },
    )
    return { user, email: user.email, password }
  }

  const makeAdmin = async (userId: BaseUser['id']) => {
    const role = (await app.users.getRoleByName('admin')) ?? (await app.users.addRole({ name: 'admin' }))
    await app.users.assignRole(userId, role.id)
  }

  const mailsTo = async (address: string) => {
    await app.users.settled()
    return mails.filter((m) => m.to === address)
  }

  const tokenFor = async (address: string, subject?: RegExp) => {
    const found = (await mailsTo(address)).filter((m) => !subject || subject.test(m.subject)).at(-1)
    assert.ok(found, `a mail${subject ? ` matching ${subject}` : ''} was sent to ${address}`)
    return tokenFromMail(found)
  }

  return {
    app,
    db: database.db,
    database,
    backend,
    mails,
    clock,
    cookieName,
    async destroy() {
      await app.close()
      await database.destroy()
    },
    login,
    createUser,
    makeAdmin,
    async admin() {
      const created = await createUser({ email: uniqueEmail('admin') })
      await makeAdmin(created.user.id)
      return { user: created.user, email: created.email, headers: await login(created.email) }
    },
    mailsTo,
    tokenFor,
    request,
  }
}

/**
 * Asserts that a body carries no password hash and no credential version, at any depth: neither as a key
 * nor as a value. (A validation problem may name the field `passwordHash` the client sent; it never has
 * such a key.)
 */
export function assertNoSecrets(res: LightMyRequestResponse): void {
  const where = `${res.raw.req.method} ${res.raw.req.url}`
  assert.doesNotMatch(res.body, /"(passwordHash|password_hash|authVersion|auth_version)"\s*:/, where)
  assert.doesNotMatch(res.body, /\$argon2|\$scrypt|\$2[aby]\$/, where)
}
