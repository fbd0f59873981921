/**
 * The plugin with `redis` set, as two instances on one database and one Redis: register, verify, a login
 * session, /users/me, logout, a password change that ends the user's other sessions on both instances, the
 * login throttle shared by both, the session list and its ends (one, the others, all) across both, and a
 * time to live on every key the journey wrote. Run per database by
 * redis-journey-*.test.ts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import { fastifyUsers } from '../../src/fastify/index.js'
import type { MailMessage } from '../../src/mail/mailer.js'
import type { DatabaseDialect } from '../../src/persistence/kysely/connect.js'
import { assertProblem, cookieOf, PASSWORD, SECRET, tokenFromMail } from '../fastify/build-app.js'
import { createTestDatabase, redisTestUrl, type TestDatabase, testRedis } from '../helpers/databases.js'
import { keysUnder } from './keys.js'

const COOKIE = 'fastify-users-session'

/** Asserts that keys of each kind exist under the prefix and that every key there has a time to live. */
async function assertAllExpire(probe: Redis, prefix: string, expected: readonly string[]): Promise<void> {
  const keys = await keysUnder(probe, prefix)
  const kinds = new Set(keys.map((k) => k.slice(prefix.length).split(':')[0]))
  for (const kind of expected) {
    assert.ok(kinds.has(kind), `a ${kind} key was written (got ${[...kinds].join(', ')})`)
  }
  for (const key of keys) {
    const ttl = await probe.pttl(key)
    assert.ok(ttl > 0, `${key} has no time to live (${ttl})`)
  }
}

export function redisJourney(dialect: DatabaseDialect, skip: string | boolean): void {
  describe(`the plugin with redis on ${dialect}`, { skip: skip || testRedis.skip }, () => {
    const prefix = `fu-test-${randomBytes(6).toString('hex')}:`
    const mails: MailMessage[] = []
    let database: TestDatabase<unknown>
    let probe: Redis
    let a: FastifyInstance
    let b: FastifyInstance

    const start = async (migrate: boolean): Promise<FastifyInstance> => {
      const app = Fastify()
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: { connection: database.db as Kysely<unknown>, migrate, redis: redisTestUrl() as string },
        redisPrefix: prefix,
        authBackend: 'session',
        cookie: { secure: false },
        baseUrl: 'https://app.example.com',
        mailer: { send: async (message) => void mails.push(message) },
      })
      await app.ready()
      return app
    }

    before(async () => {
      database = await createTestDatabase(dialect)
      probe = new Redis(redisTestUrl() as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
      await probe.connect()
      a = await start(true)
      b = await start(false)
    })
    after(async () => {
      await a?.close()
      await b?.close()
      const keys = probe ? await keysUnder(probe, prefix) : []
      if (keys.length > 0) await probe.del(...keys)
      await probe?.quit()
      await database?.destroy()
    })

    const login = async (app: FastifyInstance, email: string, password = PASSWORD) => {
      const res = await app.inject({ method: 'POST', url: '/login', payload: { email, password } })
      assert.equal(res.statusCode, 200, res.body)
      const cookie = cookieOf(res, COOKIE)
      assert.ok(cookie, 'login sets the session cookie')
      return { cookie: `${COOKIE}=${cookie.value}` }
    }
    const me = (app: FastifyInstance, headers: Record<string, string>): Promise<LightMyRequestResponse> =>
      app.inject({ method: 'GET', url: '/users/me', headers })

    it('registers, verifies, logs in and out with the session in Redis, seen by both instances', async () => {
      const email = `journey.${prefix.slice(8, 16)}@example.com`
      const registered = await a.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 202, registered.body)
      await a.users.settled()
      const mail = mails.find((m) => m.to === email)
      assert.ok(mail, 'the verification mail was sent')
      const verified = await b.inject({
        method: 'POST',
        url: '/verify',
        payload: { token: tokenFromMail(mail), password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200, verified.body)

      const first = await login(a, email)
      const second = await login(b, email)
      assert.equal((await me(b, first)).statusCode, 200, 'a session made on one instance works on the other')
      assert.equal((await me(a, second)).statusCode, 200)
      const sessions = await keysUnder(probe, `${prefix}session:`)
      assert.equal(sessions.length, 2, 'both sessions live in Redis')
      await assertAllExpire(probe, prefix, ['session', 'user-sessions', 'mail-cap'])

      const changed = await a.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: first,
        payload: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
      })
      assert.equal(changed.statusCode, 204, changed.body)
      assertProblem(await me(a, second), 401)
      assertProblem(await me(b, second), 401)

      const third = await login(b, email, 'a brand new password')
      assert.equal((await me(a, third)).statusCode, 200)
      const out = await a.inject({ method: 'POST', url: '/logout', headers: third })
      assert.equal(out.statusCode, 204)
      assertProblem(await me(b, third), 401)
    })

    it('throttles one identifier across both instances', async () => {
      const email = `nobody.${prefix.slice(8, 16)}@example.com`
      const fail = (app: FastifyInstance) =>
        app.inject({ method: 'POST', url: '/login', payload: { email, password: 'wrong password here' } })
      // Five free attempts (the default), alternating instances; the sixth is refused on either.
      for (let i = 0; i < 5; i += 1) assert.equal((await fail(i % 2 === 0 ? a : b)).statusCode, 401)
      const refused = assertProblem(await fail(b), 429, 'ERR_TOO_MANY_ATTEMPTS')
      assert.ok(refused)
      assertProblem(await fail(a), 429, 'ERR_TOO_MANY_ATTEMPTS')
    })

    it('lists the sessions kept in Redis on either instance, and ends one, the others, and all', async () => {
      const email = `devices.${prefix.slice(8, 16)}@example.com`
      await a.users.addUser({ email, password: PASSWORD }, { verify: true })
      const sessionKeys = async () => (await keysUnder(probe, `${prefix}session:`)).length
      const before = await sessionKeys()
      const loginWith = async (app: FastifyInstance, userAgent: string) => {
        const res = await app.inject({
          method: 'POST',
          url: '/login',
          headers: { 'user-agent': userAgent },
          payload: { email, password: PASSWORD },
        })
        assert.equal(res.statusCode, 200, res.body)
        return { cookie: `${COOKIE}=${cookieOf(res, COOKIE)!.value}` }
      }
      interface Item {
        id: string
        kind: string
        current: boolean
        ip: string | null
        device: { browser: string | null; os: string | null }
      }
      const list = async (app: FastifyInstance, headers: Record<string, string>) => {
        const res = await app.inject({ method: 'GET', url: '/users/me/sessions', headers })
        assert.equal(res.statusCode, 200, res.body)
        return res.json<{ sessions: Item[] }>().sessions
      }
      const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
      const laptop = await loginWith(a, firefox)
      const phone = await loginWith(
        b,
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Safari/605.1.15',
      )
      const tablet = await loginWith(a, firefox)
      const seen = await list(b, laptop)
      assert.equal(seen.length, 3, 'sessions made on both instances, listed on one')
      assert.ok(seen.every((s) => s.kind === 'session' && /^s_[A-Za-z0-9_-]{22}$/.test(s.id)))
      assert.deepEqual(
        seen.filter((s) => s.current).map((s) => s.device),
        [{ browser: 'Firefox', os: 'Linux' }],
      )
      assert.deepEqual(seen.map((s) => s.id).sort(), (await list(a, laptop)).map((s) => s.id).sort())

      // Ending the phone's session from the other instance logs the phone out on both.
      const phoneId = (await list(a, phone)).find((s) => s.current)!.id
      assert.equal(
        (await a.inject({ method: 'DELETE', url: `/users/me/sessions/${phoneId}`, headers: laptop }))
          .statusCode,
        204,
      )
      assertProblem(await me(b, phone), 401)
      assertProblem(await me(a, phone), 401)
      assert.equal((await me(b, tablet)).statusCode, 200)

      const others = await b.inject({ method: 'POST', url: '/users/me/sessions/end-others', headers: laptop })
      assert.equal(others.statusCode, 200, others.body)
      assert.deepEqual(others.json(), { ended: 1 })
      assertProblem(await me(a, tablet), 401)
      assert.deepEqual(
        (await list(a, laptop)).map((s) => s.current),
        [true],
      )

      const everywhere = await a.inject({
        method: 'POST',
        url: '/users/me/logout-everywhere',
        headers: laptop,
      })
      assert.equal(everywhere.statusCode, 204, everywhere.body)
      assertProblem(await me(b, laptop), 401)
      assert.equal(await sessionKeys(), before, "none of the user's sessions is left in Redis")
    })

    it('leaves a time to live on every key it wrote', async () => {
      await assertAllExpire(probe, prefix, ['login-attempts', 'rate-limit', 'mail-cap'])
    })
  })
}
