/**
 * Plugin options on the three backends: a wrong option fails at registration with a `TypeError` naming
 * the option, never at the first request; route groups can be turned off and moved.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify from 'fastify'
import { type Kysely, sql } from 'kysely'
import { type FastifyUsersOptions, fastifyUsers } from '../../src/fastify/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { backends, buildApp, PASSWORD, SECRET, type TestApp, uniqueEmail } from './build-app.js'

for (const backend of backends) {
  describe(`plugin options, ${backend} backend`, () => {
    let database: TestDatabase<unknown>
    before(async () => {
      database = await createTestDatabase('sqlite')
    })
    after(async () => {
      await database?.destroy()
    })

    /** Registers the plugin with these options and expects a TypeError naming `option`. */
    const refuses = async (option: string, overrides: Record<string, unknown>) => {
      const app = Fastify()
      try {
        const options = {
          secret: SECRET,
          database: database.db as Kysely<unknown>,
          authBackend: backend,
          ...overrides,
        } as FastifyUsersOptions
        await assert.rejects(
          (async () => {
            await app.register(fastifyUsers, options)
            await app.ready()
          })(),
          (err: unknown) => {
            assert.ok(err instanceof TypeError, `${option}: ${String(err)}`)
            assert.ok(err.message.includes(option), `${option} named in: ${err.message}`)
            return true
          },
        )
      } finally {
        await app.close().catch(() => {})
      }
    }

    it('refuses a bad authBackend', async () => {
      await refuses('authBackend', { authBackend: 'oauth' })
    })
    it('refuses a missing or short secret', async () => {
      await refuses('secret', { secret: undefined })
      await refuses('secret', { secret: 'too short' })
      await refuses('secret', { secret: [SECRET, 'short'] })
    })
    it('refuses a missing database', async () => {
      await refuses('database', { database: undefined })
      await refuses('database', { database: '' })
    })
    it('refuses an unknown userAuthIdentifier', async () => {
      await refuses('userAuthIdentifier', { userAuthIdentifier: 'nickname' })
    })
    it('refuses adminOnlyFields that are not userFields', async () => {
      await refuses('adminOnlyFields', { adminOnlyFields: ['tier'] })
      await refuses('adminOnlyFields', {
        userFields: { displayName: { type: 'string' } },
        adminOnlyFields: ['displayName', 'tier'],
      })
    })
    it('refuses trustedOrigins that are not bare origins', async () => {
      for (const origins of [
        ['*.example.com'],
        ['https://app.example.com/path'],
        ['app.example.com'],
        ['ftp://x.io'],
      ]) {
        await refuses('trustedOrigins', { trustedOrigins: origins })
      }
    })
    it('refuses custom fields with built-in or non-camelCase names', async () => {
      await refuses('userFields.roles', { userFields: { roles: { type: 'string' } } })
      await refuses('userFields.display_name', { userFields: { display_name: { type: 'string' } } })
    })
    it('refuses an empty guard list on the admin route groups', async () => {
      await refuses('routes.userManagement.guards', { routes: { userManagement: { guards: [] } } })
      await refuses('routes.roleManagement.guards', { routes: { roleManagement: { guards: [] } } })
    })
    it('refuses bad page sizes, cookie settings, session lifetimes and mail settings', async () => {
      await refuses('maxPageSize', { maxPageSize: 0 })
      await refuses('maxPageSize', { maxPageSize: 1.5 })
      await refuses('cookie.sameSite', { cookie: { sameSite: 'none' } })
      await refuses('baseUrl', { mailer: { send: async () => {} } })
      await refuses('tokenLifetimes.access', { tokenLifetimes: { access: 0 } })
      if (backend === 'session') {
        await refuses('session.idleTimeoutSeconds', { session: { idleTimeoutSeconds: 10 } })
        await refuses('session.absoluteTimeoutSeconds', {
          session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 300 },
        })
      }
    })
  })

  describe(`route groups, ${backend} backend`, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend,
        requireVerificationOnRegistration: false,
        openapi: false,
        tokenLifetimes: { access: 60 },
        routes: {
          register: false,
          userManagement: false,
          auth: { loginPath: '/auth/login', logoutPath: '/auth/logout' },
          currentUser: { path: '/me' },
          roleManagement: { pathPrefix: '/admin/roles' },
        },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('turns groups off and moves them', async () => {
      assert.equal((await t.request({ method: 'POST', url: '/register', payload: {} })).statusCode, 404)
      assert.equal((await t.request({ method: 'GET', url: '/openapi.json' })).statusCode, 404)
      assert.equal((await t.request({ method: 'GET', url: '/docs' })).statusCode, 404)
      const { email, user } = await t.createUser({ email: uniqueEmail('moved') })
      await t.makeAdmin(user.id)
      assert.equal(
        (await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }))
          .statusCode,
        404,
      )
      const login = await t.request({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200)
      const headers: Record<string, string> =
        backend === 'jwt'
          ? { authorization: `Bearer ${JSON.parse(login.body).accessToken}` }
          : { cookie: `${login.cookies[0]?.name}=${login.cookies[0]?.value}` }
      if (backend === 'jwt') assert.equal(JSON.parse(login.body).expiresIn, 60)
      assert.equal((await t.request({ method: 'GET', url: '/me', headers })).statusCode, 200)
      assert.equal((await t.request({ method: 'GET', url: '/users', headers })).statusCode, 404)
      assert.equal((await t.request({ method: 'GET', url: '/admin/roles', headers })).statusCode, 200)
      assert.equal((await t.request({ method: 'POST', url: '/auth/logout', headers })).statusCode, 204)
      assert.equal((await t.request({ method: 'GET', url: '/me', headers })).statusCode, 401)
    })
  })
}

const postgres = testDialects.find((d) => d.name === 'postgres')!
describe('a failed registration on a database URL', { skip: postgres.skip }, () => {
  let database: TestDatabase<unknown>
  before(async () => {
    database = await createTestDatabase('postgres')
  })
  after(async () => {
    await database?.destroy()
  })
  const connections = async () =>
    (
      await sql<{
        n: number
      }>`select count(*)::int as n from pg_stat_activity where datname = ${database.name}`.execute(
        database.db,
      )
    ).rows[0]?.n

  it('leaves no connection open once the app is closed', async () => {
    const before = await connections()
    for (const overrides of [
      { secret: 'too short' },
      { authBackend: 'session', session: { idleTimeoutSeconds: 1 } },
      { migrations: { broken: { up: async () => Promise.reject(new Error('broken migration')) } } },
    ]) {
      const app = Fastify()
      await assert.rejects(async () => {
        await app.register(fastifyUsers, {
          secret: SECRET,
          database: database.url,
          migrate: true,
          ...overrides,
        } as FastifyUsersOptions)
        await app.ready()
      })
      await app.close().catch(() => {})
    }
    // A closed client's server process leaves pg_stat_activity a moment after the socket closes (later on
    // a loaded machine): wait for it, up to a bound. A leaked connection never leaves.
    const deadline = Date.now() + 10_000
    let open = await connections()
    while (open !== before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      open = await connections()
    }
    assert.equal(open, before)
  })
})
