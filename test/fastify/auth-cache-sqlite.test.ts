/**
 * The authentication cache on one instance (SQLite, `cache: { singleInstance: true }`): the revocation
 * suites of the three backends (logout, password change and reset, deactivation, unverification,
 * deletion, role revocation, timeouts) run again with the cache on and must stay immediate; and the cache
 * is shown to be used (a write behind the library's back is not seen until the TTL) and off by default.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { assertProblem, backends, buildApp, type TestApp } from './build-app.js'

// Read by buildApp when each suite builds its app: every suite of this file runs with the cache on.
process.env.FASTIFY_USERS_TEST_AUTH_CACHE = 'single'
await import('./auth.test.js')
await import('./guards.test.js')

for (const backend of backends) {
  describe(`the authentication cache, ${backend} backend`, () => {
    let cached: TestApp
    const me = (t: TestApp, headers: Record<string, string>) =>
      t.request({ method: 'GET', url: '/users/me', headers })
    // Behind the library's back: no repository write, so nothing invalidates.
    const deactivateInSql = (t: TestApp, id: unknown) =>
      t.db
        .updateTable('users')
        .set({ is_active: t.database.dialect === 'sqlite' ? 0 : false })
        .where('id', '=', id as string)
        .execute()

    before(async () => {
      cached = await buildApp({ backend, cache: { singleInstance: true, ttlSeconds: 5 } })
    })
    after(async () => {
      await cached?.destroy()
    })

    it('answers a cached credential without reading the database, until the TTL', async () => {
      const { user, email } = await cached.createUser()
      const headers = await cached.login(email)
      assert.equal((await me(cached, headers)).statusCode, 200)
      await deactivateInSql(cached, user.id)
      // Still the cached state: proof that this request did not read the user.
      assert.equal((await me(cached, headers)).statusCode, 200)
      cached.clock.advance(5)
      assertProblem(await me(cached, headers), 401)
    })

    it('is off by default on SQLite: the same write is seen at once', async () => {
      const previous = process.env.FASTIFY_USERS_TEST_AUTH_CACHE
      delete process.env.FASTIFY_USERS_TEST_AUTH_CACHE
      try {
        const t = await buildApp({ backend })
        try {
          const { user, email } = await t.createUser()
          const headers = await t.login(email)
          assert.equal((await me(t, headers)).statusCode, 200)
          await deactivateInSql(t, user.id)
          assertProblem(await me(t, headers), 401)
        } finally {
          await t.destroy()
        }
      } finally {
        process.env.FASTIFY_USERS_TEST_AUTH_CACHE = previous
      }
    })

    it('drops every credential of a user written through the service, at once', async () => {
      const { user, email } = await cached.createUser()
      const a = await cached.login(email)
      const b = await cached.login(email)
      assert.equal((await me(cached, a)).statusCode, 200)
      assert.equal((await me(cached, b)).statusCode, 200)
      await cached.app.users.updateUser(user.id, { isActive: false })
      assertProblem(await me(cached, a), 401)
      assertProblem(await me(cached, b), 401)
    })

    it("ends one logged-out credential at once, and leaves the user's others", async () => {
      // Without refresh tokens a JWT logout names only that token (with them it ends the whole family,
      // which drops every cached credential of the user): the narrowest revocation the cache must honour.
      const t = await buildApp({
        backend,
        cache: { singleInstance: true, ttlSeconds: 5 },
        refreshToken: false,
      })
      try {
        const { email } = await t.createUser()
        const a = await t.login(email)
        const b = await t.login(email)
        assert.equal((await me(t, a)).statusCode, 200)
        assert.equal((await me(t, b)).statusCode, 200)
        const out = await t.request({ method: 'POST', url: '/logout', headers: a })
        assert.ok(out.statusCode < 300, out.body)
        assertProblem(await me(t, a), 401)
        assert.equal((await me(t, b)).statusCode, 200)
      } finally {
        await t.destroy()
      }
    })

    it('refuses a bad cache option with a TypeError naming it', async () => {
      await assert.rejects(buildApp({ backend, cache: { ttlSeconds: 0 } as never }), /cache\.ttlSeconds/)
      await assert.rejects(buildApp({ backend, cache: { nope: 1 } as never }), /option `cache`/)
      await assert.rejects(buildApp({ backend, cache: 'yes' as never }), /option `cache`/)
    })
  })
}

describe('the authentication cache with a bus that cannot be reached', () => {
  it('stays bypassed (every request asks the database), and a revoking write still answers', async () => {
    // Nothing listens on port 1: the subscription never comes up, and publishing never succeeds.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, retryStrategy: () => 200 })
    redis.on('error', () => {})
    const t = await buildApp({ backend: 'session', cache: { redis } })
    try {
      const { user, email } = await t.createUser()
      const headers = await t.login(email)
      assert.equal((await t.request({ method: 'GET', url: '/users/me', headers })).statusCode, 200)
      await t.db
        .updateTable('users')
        .set({ is_active: 0 })
        .where('id', '=', user.id as string)
        .execute()
      assertProblem(await t.request({ method: 'GET', url: '/users/me', headers }), 401)
      await t.db
        .updateTable('users')
        .set({ is_active: 1 })
        .where('id', '=', user.id as string)
        .execute()
      // The publish of the logout times out (logged); the logout itself is done and answered.
      const res = await t.request({ method: 'POST', url: '/logout', headers })
      assert.equal(res.statusCode, 204)
      assertProblem(await t.request({ method: 'GET', url: '/users/me', headers }), 401)
    } finally {
      await t.destroy()
      redis.disconnect()
    }
  })
})
