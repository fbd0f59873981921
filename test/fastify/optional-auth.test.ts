/**
 * Optional authentication on the application's public routes, on every backend and database: an
 * unguarded route used to see `request.user === null` even with a valid credential, so an app could not
 * greet "hello, Ada" on a public page. With `optionalUser()` or `config: { optionalUser: true }` it sees the
 * user of a valid credential; an invalid, expired or revoked credential is anonymous there, never a 401.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { fastifyUsers, optionalUser } from '../../src/fastify/index.js'
import { createTestDatabase, testDialects } from '../helpers/databases.js'
import { BASE_URL, backends, buildApp, SECRET, type TestApp, uniqueEmail } from './build-app.js'

const hello = async (request: FastifyRequest) => {
  const user = request.user as { displayName?: string | null } | null
  return `hello, ${user ? user.displayName : 'stranger'}`
}

function appRoutes(app: FastifyInstance): void {
  app.get('/hello', { preHandler: optionalUser() }, hello)
  app.get('/hello-config', { config: { optionalUser: true } }, hello)
  app.post('/hello-config', { config: { optionalUser: true } }, hello)
  app.get('/unmarked', hello)
}

const PATHS = ['/hello', '/hello-config']

for (const { name: dialect, skip } of testDialects) {
  for (const backend of backends) {
    describe(`optional authentication, ${backend} backend on ${dialect}`, { skip }, () => {
      let t: TestApp
      before(async () => {
        t = await buildApp({ backend, dialect, appRoutes })
      })
      after(() => t?.destroy())

      const get = (url: string, headers: Record<string, string> = {}) =>
        t.request({ method: 'GET', url, headers })

      async function ada(): Promise<{ headers: Record<string, string>; userId: unknown }> {
        const { email, user } = await t.createUser({ email: uniqueEmail('ada'), displayName: 'Ada' })
        return { headers: await t.login(email), userId: user.id }
      }

      it('greets the user of a valid credential, and a stranger without one', async () => {
        const { headers } = await ada()
        for (const path of PATHS) {
          const known = await get(path, headers)
          assert.equal(known.statusCode, 200, known.body)
          assert.equal(known.body, 'hello, Ada', path)
          const stranger = await get(path)
          assert.equal(stranger.statusCode, 200, stranger.body)
          assert.equal(stranger.body, 'hello, stranger', path)
        }
      })

      it('treats an invalid credential as anonymous, not as 401', async () => {
        const forged: Record<string, string> =
          t.cookieName === null
            ? { authorization: 'Bearer not.a.token' }
            : { cookie: `${t.cookieName}=forged-${'x'.repeat(40)}` }
        for (const headers of [forged, { authorization: 'Basic Zm9vOmJhcg==' }, { cookie: 'junk' }]) {
          for (const path of PATHS) {
            const res = await get(path, headers)
            assert.equal(res.statusCode, 200, res.body)
            assert.equal(res.body, 'hello, stranger')
          }
        }
      })

      it('treats a revoked credential (logged out, deactivated user) as anonymous', async () => {
        const first = await ada()
        assert.equal((await get('/hello', first.headers)).body, 'hello, Ada')
        const logout = await t.request({ method: 'POST', url: '/logout', headers: first.headers })
        assert.equal(logout.statusCode, 204, logout.body)
        for (const path of PATHS) assert.equal((await get(path, first.headers)).body, 'hello, stranger')

        const second = await ada()
        assert.equal((await get('/hello-config', second.headers)).body, 'hello, Ada')
        await t.app.users.updateUser(second.userId as never, { isActive: false } as never)
        for (const path of PATHS) assert.equal((await get(path, second.headers)).body, 'hello, stranger')
      })

      it('treats an expired credential as anonymous', async () => {
        const { headers } = await ada()
        assert.equal((await get('/hello', headers)).body, 'hello, Ada')
        // Past the session's idle timeout (3600 s) and the access token's lifetime (900 s).
        t.clock.advance(3601)
        for (const path of PATHS) {
          const res = await get(path, headers)
          assert.equal(res.statusCode, 200, res.body)
          assert.equal(res.body, 'hello, stranger')
        }
      })

      it('does not act as the user on a cross-site state-changing request (cookie backends)', async () => {
        const { headers } = await ada()
        const res = await t.request({
          method: 'POST',
          url: '/hello-config',
          headers: { ...headers, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        })
        assert.equal(res.statusCode, 200, res.body)
        // A Bearer token is never sent by a browser on its own: no CSRF, so the user is known.
        assert.equal(res.body, t.cookieName === null ? 'hello, Ada' : 'hello, stranger')
        const sameSite = await t.request({
          method: 'POST',
          url: '/hello-config',
          headers: { ...headers, 'sec-fetch-site': 'same-origin' },
        })
        assert.equal(sameSite.body, 'hello, Ada')
      })

      it('leaves routes that do not ask alone: no credential is looked at there', async () => {
        const { headers } = await ada()
        assert.equal((await get('/unmarked', headers)).body, 'hello, stranger')
      })
    })
  }
}

describe('config.optionalUser', () => {
  it('must be a boolean: a typo fails at registration, not at the first request', async () => {
    const database = await createTestDatabase<unknown>('sqlite')
    const app = Fastify()
    try {
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: database.db as Kysely<unknown>,
        migrate: true,
        baseUrl: BASE_URL,
        openapi: false,
      })
      await app.after()
      assert.throws(
        () => app.get('/x', { config: { optionalUser: 'yes' as unknown as boolean } }, hello),
        /config\.optionalUser must be a boolean/,
      )
    } finally {
      await app.close().catch(() => {})
      await database.destroy()
    }
  })
})
