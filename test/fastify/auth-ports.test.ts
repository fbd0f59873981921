/**
 * The plugin's open ports: several backends on one app (a browser's session cookie and an API client's
 * Bearer JWT), a service the application constructed, the token issuer, the grouped form of the options,
 * and the combinations refused at registration.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify from 'fastify'
import type { Kysely } from 'kysely'
import { JwtBackend, SessionBackend } from '../../src/auth/index.js'
import { type FastifyUsersOptions, fastifyUsers } from '../../src/fastify/index.js'
import { normalizeOptions } from '../../src/fastify/normalize-options.js'
import { type BaseUser, BaseUserService } from '../../src/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { TokenCodec, tokenPurposes } from '../../src/tokens/token-codec.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import {
  assertProblem,
  buildApp,
  cookieOf,
  json,
  PASSWORD,
  SECRET,
  type TestApp,
  uniqueEmail,
} from './build-app.js'

const COOKIE = '__Host-fastify-users-session'

async function cookieLogin(t: TestApp, email: string, password = PASSWORD): Promise<Record<string, string>> {
  const res = await t.request({ method: 'POST', url: '/login', payload: { email, password } })
  assert.equal(res.statusCode, 200, res.body)
  const cookie = cookieOf(res, COOKIE)
  assert.ok(cookie, 'the browser login sets the session cookie')
  assert.equal(json(res).accessToken, undefined)
  return { cookie: `${COOKIE}=${cookie.value}` }
}

async function bearerLogin(t: TestApp, email: string, password = PASSWORD): Promise<Record<string, string>> {
  const res = await t.request({ method: 'POST', url: '/auth/jwt/login', payload: { email, password } })
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.cookies.length, 0, 'the API login sets no cookie')
  const body = json<{ accessToken: string; tokenType: string }>(res)
  assert.equal(body.tokenType, 'Bearer')
  return { authorization: `Bearer ${body.accessToken}` }
}

type HeaderDoc = Record<string, { schema?: { enum?: unknown } }>
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { headers?: HeaderDoc }> }>> }

/**
 * The credential headers of an answer are the ones its operation documents, no more and no fewer: a
 * Bearer backend's login sets no cookie, and `Clear-Site-Data` is documented only where it is sent.
 */
async function assertCookieHeadersDocumented(
  t: TestApp,
  res: { statusCode: number; headers: Record<string, unknown> },
  method: string,
  path: string,
): Promise<void> {
  const doc = json<Doc>(await t.request({ method: 'GET', url: '/openapi.json' }))
  const documented = doc.paths[path]?.[method]?.responses[String(res.statusCode)]?.headers ?? {}
  for (const name of ['Set-Cookie', 'Clear-Site-Data']) {
    const sent = res.headers[name.toLowerCase()] !== undefined
    assert.equal(name in documented, sent, `${method.toUpperCase()} ${path} ${res.statusCode}: ${name}`)
  }
}

async function meStatus(t: TestApp, headers: Record<string, string>): Promise<number> {
  return (await t.request({ method: 'GET', url: '/users/me', headers })).statusCode
}

for (const dialect of testDialects) {
  describe(`a session cookie and a Bearer JWT on one app (${dialect.name})`, { skip: dialect.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        authBackend: undefined,
        auth: { backends: ['session', 'jwt'] },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('documents the cookie of each login as it is sent: the Bearer login sets none', async () => {
      const { email } = await t.createUser()
      const payload = { email, password: PASSWORD }
      const browser = await t.request({ method: 'POST', url: '/login', payload })
      assert.equal(browser.statusCode, 200, browser.body)
      await assertCookieHeadersDocumented(t, browser, 'post', '/login')
      const api = await t.request({ method: 'POST', url: '/auth/jwt/login', payload })
      assert.equal(api.statusCode, 200, api.body)
      await assertCookieHeadersDocumented(t, api, 'post', '/auth/jwt/login')
    })

    it('lets both clients reach /users/me, each with its own credential', async () => {
      const { email } = await t.createUser()
      const browser = await cookieLogin(t, email)
      const api = await bearerLogin(t, email)
      assert.equal(await meStatus(t, browser), 200)
      assert.equal(await meStatus(t, api), 200)
      assert.equal(await meStatus(t, {}), 401)
    })

    it('logs out one client without logging out the other', async () => {
      const { email } = await t.createUser()
      const browser = await cookieLogin(t, email)
      const api = await bearerLogin(t, email)
      const out = await t.request({ method: 'POST', url: '/logout', headers: browser })
      assert.equal(out.statusCode, 204)
      assert.equal(out.headers['clear-site-data'], '"cookies"', 'the only cookie backend clears the site')
      await assertCookieHeadersDocumented(t, out, 'post', '/logout')
      assert.equal(await meStatus(t, browser), 401)
      assert.equal(await meStatus(t, api), 200)

      const browser2 = await cookieLogin(t, email)
      const apiOut = await t.request({ method: 'POST', url: '/auth/jwt/logout', headers: api })
      assert.equal(apiOut.statusCode, 204)
      assert.equal(apiOut.headers['clear-site-data'], undefined)
      await assertCookieHeadersDocumented(t, apiOut, 'post', '/auth/jwt/logout')
      assert.equal(await meStatus(t, api), 401)
      assert.equal(await meStatus(t, browser2), 200)
    })

    it('asks the backends in order: the first that authenticates the request wins', async () => {
      const a = await t.createUser()
      const b = await t.createUser()
      const browser = await cookieLogin(t, a.email)
      const api = await bearerLogin(t, b.email)
      const meOf = async (headers: Record<string, string>) => {
        const res = await t.request({ method: 'GET', url: '/users/me', headers })
        assert.equal(res.statusCode, 200, res.body)
        return json<{ email: string }>(res).email
      }
      // Both credentials are good: the session cookie backend comes first.
      assert.equal(await meOf({ ...browser, ...api }), a.email)
      // A dead cookie does not stop the request: the next backend, Bearer, authenticates it.
      assert.equal((await t.request({ method: 'POST', url: '/logout', headers: browser })).statusCode, 204)
      assert.equal(await meOf({ ...browser, ...api }), b.email)
    })

    it("answers 401 at a backend's logout when the request has no credential of that backend", async () => {
      const { email } = await t.createUser()
      const browser = await cookieLogin(t, email)
      assertProblem(await t.request({ method: 'POST', url: '/auth/jwt/logout', headers: browser }), 401)
      assert.equal(await meStatus(t, browser), 200)
    })

    it('ends both credentials on a password change', async () => {
      const { email } = await t.createUser()
      const browser = await cookieLogin(t, email)
      const api = await bearerLogin(t, email)
      const res = await t.request({
        method: 'POST',
        url: '/users/me/password',
        headers: api,
        payload: { currentPassword: PASSWORD, newPassword: 'another horse battery staple' },
      })
      assert.equal(res.statusCode, 204, res.body)
      assert.equal(res.cookies.length, 0, 'a Bearer client gets no cookie')
      assert.equal(await meStatus(t, api), 401)
      assert.equal(await meStatus(t, browser), 401)
      assert.equal(await meStatus(t, await bearerLogin(t, email, 'another horse battery staple')), 200)
    })

    it('names the schemes of both backends in WWW-Authenticate and in the OpenAPI document', async () => {
      const res = await t.request({ method: 'GET', url: '/users/me' })
      assert.equal(res.headers['www-authenticate'], 'Cookie, Bearer')
      const doc = json<{
        components: { securitySchemes: Record<string, unknown> }
        paths: Record<
          string,
          Record<
            string,
            {
              security?: unknown
              responses: Record<string, { headers?: Record<string, { schema: { enum?: unknown } }> }>
            }
          >
        >
      }>(await t.request({ method: 'GET', url: '/openapi.json' }))
      assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearerAuth', 'cookieAuth'])
      assert.deepEqual(doc.paths['/users/me']?.get?.security, [{ cookieAuth: [] }, { bearerAuth: [] }])
      // The document names the value the header takes.
      assert.deepEqual(
        doc.paths['/users/me']?.get?.responses['401']?.headers?.['WWW-Authenticate']?.schema.enum,
        ['Cookie, Bearer'],
      )
      assert.ok(doc.paths['/auth/jwt/login']?.post)
    })
  })
}

describe('two cookie backends on one app', () => {
  let t: TestApp
  before(async () => {
    t = await buildApp({
      backend: 'session',
      authBackend: undefined,
      auth: { backends: ['session', { name: 'staff', transport: 'cookie', strategy: 'session' }] },
    })
  })
  after(async () => {
    await t?.destroy()
  })

  it('gives the second its own cookie, and a logout of one keeps the other', async () => {
    const { email } = await t.createUser()
    const browser = await cookieLogin(t, email)
    const res = await t.request({
      method: 'POST',
      url: '/auth/staff/login',
      payload: { email, password: PASSWORD },
    })
    assert.equal(res.statusCode, 200, res.body)
    await assertCookieHeadersDocumented(t, res, 'post', '/auth/staff/login')
    const staffCookie = cookieOf(res, '__Host-fastify-users-staff')
    assert.ok(staffCookie, 'the second session backend gets a cookie named after it')
    const staff = { cookie: `__Host-fastify-users-staff=${staffCookie.value}` }
    assert.equal(await meStatus(t, staff), 200)
    const out = await t.request({ method: 'POST', url: '/auth/staff/logout', headers: staff })
    assert.equal(out.statusCode, 204)
    assert.equal(out.headers['clear-site-data'], undefined, 'it would drop the other cookie too')
    await assertCookieHeadersDocumented(t, out, 'post', '/auth/staff/logout')
    assert.equal(await meStatus(t, staff), 401)
    assert.equal(await meStatus(t, browser), 200)
    const first = await t.request({ method: 'POST', url: '/logout', headers: browser })
    assert.equal(first.statusCode, 204)
    assert.equal(first.headers['clear-site-data'], undefined, 'nor does the first backend clear the site')
    await assertCookieHeadersDocumented(t, first, 'post', '/logout')
  })

  it('answers 401 with the one scheme both use', async () => {
    const res = await t.request({ method: 'GET', url: '/users/me' })
    assert.equal(res.headers['www-authenticate'], 'Cookie')
  })
})

describe('the origin check with a cookie and a Bearer backend', () => {
  it('still refuses a cross-site state-changing request, whatever its credential', async () => {
    const t = await buildApp({
      backend: 'session',
      authBackend: undefined,
      auth: { backends: ['session', 'jwt'] },
    })
    try {
      const { email } = await t.createUser()
      const api = await bearerLogin(t, email)
      const res = await t.request({
        method: 'PATCH',
        url: '/users/me',
        headers: { ...api, origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' },
        payload: { displayName: 'x' },
      })
      assertProblem(res, 403, 'ERR_CROSS_ORIGIN')
    } finally {
      await t.destroy()
    }
  })
})

describe('WWW-Authenticate names the configured backends only', () => {
  for (const [backend, challenge] of [
    ['session', 'Cookie'],
    ['jwt', 'Bearer'],
    ['jwt-cookie', 'Cookie'],
  ] as const) {
    it(`answers '${challenge}' on the ${backend} backend`, async () => {
      const t = await buildApp({ backend })
      try {
        const res = await t.request({ method: 'GET', url: '/users/me' })
        assert.equal(res.headers['www-authenticate'], challenge)
      } finally {
        await t.destroy()
      }
    })
  }
})

describe('a JWT carries the configured issuer', () => {
  for (const form of ['flat', 'grouped'] as const) {
    it(`writes and requires the issuer (${form} option)`, async () => {
      const issuer = 'https://issuer.example'
      const t = await buildApp({
        backend: 'jwt',
        ...(form === 'flat' ? { issuer } : { service: { issuer } }),
      })
      try {
        const { user, email } = await t.createUser()
        const headers = await t.login(email)
        const token = headers.authorization!.slice('Bearer '.length)
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
          iss: string
        }
        assert.equal(claims.iss, issuer)
        assert.equal(await meStatus(t, headers), 200)
        const foreign = new TokenCodec({ secret: SECRET, issuer: 'someone-else', clock: t.clock }).sign(
          tokenPurposes.access,
          { sub: String(user.id), lifetimeSeconds: 600, claims: { ver: user.authVersion } },
        )
        assert.equal(await meStatus(t, { authorization: `Bearer ${foreign}` }), 401)
      } finally {
        await t.destroy()
      }
    })
  }
})

describe('a constructed service', () => {
  let database: TestDatabase<unknown>
  let repos: ReturnType<typeof createKyselyRepositories>
  const hooked: string[] = []
  class AppService extends BaseUserService<BaseUser> {
    override async postRegistrationHook(user: BaseUser): Promise<void> {
      hooked.push(user.email)
    }
  }
  const newService = () =>
    new AppService({
      secret: SECRET,
      userRepository: repos.userRepository,
      roleRepository: repos.roleRepository,
      sessionRepository: repos.sessionRepository,
      requireVerificationOnRegistration: false,
    })
  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    repos = createKyselyRepositories(database.db)
  })
  after(async () => {
    await database?.destroy()
  })

  it('is used as it is, with no database, its repositories backing the sessions', async () => {
    const service = newService()
    const app = Fastify()
    try {
      await app.register(fastifyUsers, { service, cookie: { secure: false } })
      assert.equal(app.users, service)
      const email = uniqueEmail()
      const reg = await app.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD },
      })
      assert.equal(reg.statusCode, 201, reg.body)
      assert.deepEqual(hooked, [email])
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const cookie = cookieOf(login, 'fastify-users-session')
      assert.ok(cookie)
      const me = await app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: `fastify-users-session=${cookie.value}` },
      })
      assert.equal(me.statusCode, 200)
      assert.equal(json(me).email, email)
    } finally {
      await app.close()
    }
  })

  it('takes backends built by the application, a session in a Bearer header among them', async () => {
    const service = newService()
    const api = new SessionBackend({
      name: 'api',
      transport: 'bearer',
      users: repos.userRepository,
      sessions: repos.sessionRepository,
      clock: service.clock,
      requireVerified: false,
    })
    const jwt = new JwtBackend({
      users: repos.userRepository,
      denylist: repos.tokenDenylist,
      tokens: service.tokens,
      clock: service.clock,
      transport: 'bearer',
      requireVerified: false,
      parseId: (sub) => service.parseId(sub),
    })
    const app = Fastify()
    try {
      await app.register(fastifyUsers, { service, auth: { backends: [api, jwt] } })
      const email = uniqueEmail()
      await service.addUser({ email, password: PASSWORD }, { verify: true })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const secret = json<{ accessToken: string }>(login).accessToken
      assert.doesNotMatch(secret, /\./, 'an opaque session secret, not a JWT')
      const headers = { authorization: `Bearer ${secret}` }
      assert.equal((await app.inject({ method: 'GET', url: '/users/me', headers })).statusCode, 200)
      const other = await app.inject({
        method: 'POST',
        url: '/auth/jwt/login',
        payload: { email, password: PASSWORD },
      })
      const jwtHeaders = { authorization: `Bearer ${json<{ accessToken: string }>(other).accessToken}` }
      assert.equal(
        (await app.inject({ method: 'GET', url: '/users/me', headers: jwtHeaders })).statusCode,
        200,
      )
      assert.equal((await app.inject({ method: 'POST', url: '/logout', headers })).statusCode, 204)
      assert.equal((await app.inject({ method: 'GET', url: '/users/me', headers })).statusCode, 401)
      assert.equal(
        (await app.inject({ method: 'GET', url: '/users/me', headers: jwtHeaders })).statusCode,
        200,
      )
      const res = await app.inject({ method: 'GET', url: '/users/me' })
      assert.equal(res.headers['www-authenticate'], 'Bearer')
    } finally {
      await app.close()
    }
  })

  it('refuses the JWT strategy without a deny-list, and accepts auth.tokenDenylist', async () => {
    await refuses('auth.backends[0]', { service: newService(), auth: { backends: ['jwt'] } })
    const app = Fastify()
    try {
      await app.register(fastifyUsers, {
        service: newService(),
        auth: { backends: ['jwt'], tokenDenylist: repos.tokenDenylist },
      })
      await app.ready()
    } finally {
      await app.close()
    }
  })

  it('refuses the options the service already holds', async () => {
    await refuses('secret', { service: newService(), secret: SECRET })
    await refuses('hashSchemes', { service: newService(), hashSchemes: ['scrypt'] })
    await refuses('mailer', { service: newService(), mail: { mailer: { send: async () => {} } } })
    await refuses('userServiceClass', { service: newService(), userServiceClass: AppService })
    await refuses('userAuthIdentifier', { service: newService(), userAuthIdentifier: 'username' })
    await refuses('migrate', { service: newService(), migrate: true })
  })
})

/** Registers the plugin with these options and expects a TypeError naming `option`. */
async function refuses(option: string, options: Record<string, unknown>): Promise<void> {
  const app = Fastify()
  try {
    await assert.rejects(
      (async () => {
        await app.register(fastifyUsers, options as FastifyUsersOptions)
        await app.ready()
      })(),
      (err: unknown) => {
        assert.ok(err instanceof TypeError, `${option}: ${String(err)}`)
        assert.ok(err.message.includes(`\`${option}\``), `${option} named in: ${err.message}`)
        return true
      },
    )
  } finally {
    await app.close().catch(() => {})
  }
}

describe('grouped options', () => {
  let database: TestDatabase<unknown>
  before(async () => {
    database = await createTestDatabase('sqlite')
  })
  after(async () => {
    await database?.destroy()
  })

  it('normalise to the same options as the flat form', () => {
    const db = database.db as Kysely<unknown>
    const mailer = { send: async () => {} }
    const flat: FastifyUsersOptions = {
      secret: SECRET,
      database: db,
      connectTimeoutMs: 1000,
      migrate: true,
      idType: 'integer',
      userAuthIdentifier: 'username',
      userFields: { nickname: { type: 'string' } },
      adminOnlyFields: ['nickname'],
      requireVerificationOnRegistration: false,
      issuer: 'app',
      adminRoles: ['root'],
      loginThrottle: false,
      authBackend: 'jwt-cookie',
      session: { idleTimeoutSeconds: 600 },
      cookie: { secure: false },
      trustedOrigins: ['https://app.example.com'],
      mailer,
      baseUrl: 'https://app.example.com',
      appName: 'App',
      maxPageSize: 50,
      routes: { userManagement: { pathPrefix: '/admin/users' } },
    }
    const grouped: FastifyUsersOptions = {
      secret: SECRET,
      database: { connection: db, connectTimeoutMs: 1000, migrate: true },
      user: {
        idType: 'integer',
        authIdentifier: 'username',
        fields: { nickname: { type: 'string' } },
        adminOnlyFields: ['nickname'],
      },
      service: {
        requireVerificationOnRegistration: false,
        issuer: 'app',
        adminRoles: ['root'],
        loginThrottle: false,
      },
      auth: {
        backends: ['jwt-cookie'],
        session: { idleTimeoutSeconds: 600 },
        cookie: { secure: false },
        trustedOrigins: ['https://app.example.com'],
      },
      mail: { mailer, baseUrl: 'https://app.example.com', appName: 'App' },
      routes: { userManagement: { pathPrefix: '/admin/users', maxPageSize: 50 } },
    }
    assert.deepEqual(normalizeOptions(grouped), normalizeOptions(flat))
  })

  it('serve the same app as the flat form', async () => {
    const app = Fastify()
    try {
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: { connection: database.db as Kysely<unknown>, migrate: true },
        service: { requireVerificationOnRegistration: false },
        auth: { backends: [{ transport: 'cookie', strategy: 'jwt' }], cookie: { secure: false } },
      })
      const email = uniqueEmail()
      await app.users.addUser({ email, password: PASSWORD })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      assert.ok(cookieOf(login, 'fastify-users-token'), 'the jwt-cookie backend, without the __Host- prefix')
    } finally {
      await app.close()
    }
  })

  it('refuse bad combinations with a TypeError naming the option', async () => {
    const db = database.db as Kysely<unknown>
    const base = { secret: SECRET, database: db }
    await refuses('authBackend', { ...base, authBackend: 'jwt', auth: { backends: ['session'] } })
    await refuses('mail.mailer', {
      ...base,
      mailer: { send: async () => {} },
      mail: { mailer: { send: async () => {} } },
    })
    await refuses('auth.backend', { ...base, auth: { backend: 'jwt' } })
    await refuses('database.url', { secret: SECRET, database: { connection: db, url: 'sqlite::memory:' } })
    await refuses('auth.backends', { ...base, auth: { backends: [] } })
    await refuses('auth.backends[1].name', {
      ...base,
      auth: { backends: ['session', { name: 'session', transport: 'bearer', strategy: 'jwt' }] },
    })
    await refuses('auth.backends[0].transport', {
      ...base,
      auth: { backends: [{ transport: 'header', strategy: 'jwt' }] },
    })
    await refuses('auth.backends[0].strategy', {
      ...base,
      auth: { backends: [{ transport: 'cookie', strategy: 'opaque' }] },
    })
    await refuses('auth.backends[0].cookieName', {
      ...base,
      auth: { backends: [{ transport: 'bearer', strategy: 'jwt', cookieName: 'x' }] },
    })
    await refuses('auth.backends', {
      ...base,
      auth: {
        backends: [
          { transport: 'cookie', strategy: 'jwt', cookieName: 'c' },
          { name: 'two', transport: 'cookie', strategy: 'session', cookieName: 'c' },
        ],
      },
    })
    await refuses('auth.backends[0]', { ...base, auth: { backends: ['oauth'] } })
    await refuses('database', { secret: SECRET })
    await refuses('maxPageSize', {
      ...base,
      maxPageSize: 10,
      routes: { userManagement: { maxPageSize: 10 } },
    })
  })
})
