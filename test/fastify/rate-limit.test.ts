/**
 * Per-IP rate limits on the public routes. Before them, one address could send unlimited logins,
 * registrations, verification and reset requests (only the per-identifier login throttle existed, which
 * a guesser spraying many identifiers never meets). Now each group of public routes allows a set number
 * of requests per address and window, then answers 429 problem+json `ERR_RATE_LIMITED` with
 * `Retry-After`; guarded routes and other addresses are not affected; counts can live in Redis, shared by
 * every instance.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { errorHandler } from '../../src/fastify/error-handler.js'
import { createRateLimits, defaultRateLimits, resolveRateLimits } from '../../src/fastify/rate-limit.js'
import { redisTestUrl, testRedis } from '../helpers/databases.js'
import { assertProblem, buildApp, PASSWORD, type TestApp, uniqueEmail } from './build-app.js'

/** Asserts the 429 of the per-IP limit. */
function assertLimited(res: LightMyRequestResponse): void {
  assertProblem(res, 429, 'ERR_RATE_LIMITED')
  const retryAfter = Number(res.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`)
}

const defaults = { rateLimit: {} } // buildApp sets high limits for the other suites; {} is the plugin default

describe('per-IP rate limits, default settings', () => {
  let t: TestApp
  let ip = 0
  /** A fresh client address for each test, so the tests do not share counts. */
  const nextIp = () => `198.51.100.${++ip}`

  before(async () => {
    t = await buildApp({ backend: 'session', ...defaults })
  })
  after(async () => {
    await t?.destroy()
  })

  const calls = {
    login: () => ({
      method: 'POST' as const,
      url: '/login',
      payload: { email: uniqueEmail(), password: PASSWORD },
    }),
    register: () => ({
      method: 'POST' as const,
      url: '/register',
      payload: { email: uniqueEmail(), password: PASSWORD },
    }),
    verification: () => ({
      method: 'POST' as const,
      url: '/verify/request',
      payload: { email: uniqueEmail() },
    }),
    passwordReset: () => ({
      method: 'POST' as const,
      url: '/forgot-password',
      payload: { email: uniqueEmail() },
    }),
  }

  for (const [group, call] of Object.entries(calls) as [
    keyof typeof calls,
    (typeof calls)[keyof typeof calls],
  ][]) {
    it(`limits ${group} to ${defaultRateLimits[group].max} a minute per address, then 429 ERR_RATE_LIMITED`, async () => {
      const address = nextIp()
      for (let i = 0; i < defaultRateLimits[group].max; i++) {
        const res = await t.request({ ...call(), remoteAddress: address })
        assert.notEqual(res.statusCode, 429, `request ${i + 1}: ${res.body}`)
      }
      const before = await t.app.users.listUsers({ limit: 1 })
      assertLimited(await t.request({ ...call(), remoteAddress: address }))
      // Refused before the handler: nothing was created.
      assert.equal((await t.app.users.listUsers({ limit: 1 })).total, before.total)
      // Another address is not affected.
      assert.notEqual((await t.request({ ...call(), remoteAddress: nextIp() })).statusCode, 429)
    })
  }

  it('counts the routes of one group together (forgot-password and reset-password)', async () => {
    const address = nextIp()
    for (let i = 0; i < defaultRateLimits.passwordReset.max; i++) {
      const res = await t.request({ ...calls.passwordReset(), remoteAddress: address })
      assert.equal(res.statusCode, 202)
    }
    assertLimited(
      await t.request({
        method: 'POST',
        url: '/reset-password',
        payload: { token: 'x.y.z', password: PASSWORD },
        remoteAddress: address,
      }),
    )
    // Other groups keep their own count.
    assert.notEqual((await t.request({ ...calls.login(), remoteAddress: address })).statusCode, 429)
  })

  it('does not limit guarded routes', async () => {
    const address = nextIp()
    for (let i = 0; i < 40; i++) {
      assertProblem(await t.request({ method: 'GET', url: '/users/me', remoteAddress: address }), 401)
    }
  })
})

describe('per-IP rate limits: options', () => {
  it('rateLimit: false turns them off', async () => {
    const t = await buildApp({ backend: 'jwt', rateLimit: false })
    try {
      for (let i = 0; i < defaultRateLimits.login.max + 5; i++) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: uniqueEmail(), password: PASSWORD },
        })
        assert.equal(res.statusCode, 401)
      }
    } finally {
      await t.destroy()
    }
  })

  it('takes limits per group, and refuses bad ones at registration', async () => {
    const t = await buildApp({
      backend: 'jwt',
      rateLimit: { groups: { login: { max: 2, windowSeconds: 60 } } },
    })
    try {
      const login = () =>
        t.request({ method: 'POST', url: '/login', payload: { email: uniqueEmail(), password: PASSWORD } })
      assert.equal((await login()).statusCode, 401)
      assert.equal((await login()).statusCode, 401)
      assertLimited(await login())
    } finally {
      await t.destroy()
    }
    assert.throws(() => resolveRateLimits({ groups: { login: { max: 0, windowSeconds: 60 } } }), TypeError)
    assert.throws(() => resolveRateLimits({ groups: { logn: false } as never }), TypeError)
    assert.throws(() => resolveRateLimits({ redis: {} }), TypeError)
    assert.throws(() => resolveRateLimits('on' as never), TypeError)
  })

  it('limits a new public route by default (group "public"), and honours rateLimitGroup: false', async () => {
    const app = Fastify()
    app.setErrorHandler(errorHandler)
    try {
      const limitRoute = await createRateLimits(app, resolveRateLimits({}), {
        login: '/login',
        register: '/register',
        verify: '/verify',
        forgot: '/forgot-password',
        reset: '/reset-password',
      })
      app.register((scope, _opts, done) => {
        scope.addHook('onRoute', limitRoute)
        scope.post('/email/confirm', async () => ({ ok: true }))
        scope.post('/unlimited', { config: { rateLimitGroup: false } }, async () => ({ ok: true }))
        scope.get('/guarded', { preValidation: async () => {} }, async () => ({ ok: true }))
        done()
      })
      await app.ready()
      const statuses = async (url: string, method: 'GET' | 'POST', n: number) => {
        const out: number[] = []
        for (let i = 0; i < n; i++) out.push((await app.inject({ method, url })).statusCode)
        return out
      }
      const confirm = await statuses('/email/confirm', 'POST', defaultRateLimits.public.max + 1)
      assert.equal(confirm.at(-1), 429)
      assert.ok(confirm.slice(0, -1).every((s) => s === 200))
      assert.ok((await statuses('/unlimited', 'POST', 40)).every((s) => s === 200))
      assert.ok((await statuses('/guarded', 'GET', 40)).every((s) => s === 200))
    } finally {
      await app.close()
    }
  })
})

describe('per-IP rate limits shared in Redis by two instances', { skip: testRedis.skip }, () => {
  let redis: Redis
  let a: TestApp
  let b: TestApp

  before(async () => {
    redis = new Redis(redisTestUrl() as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    // A fresh namespace per run, so parallel runs and earlier runs never share counts.
    const nameSpace = `fastify-users-test-${randomBytes(6).toString('hex')}:`
    const rateLimit = { redis, nameSpace, groups: { login: { max: 6, windowSeconds: 60 } } }
    a = await buildApp({ backend: 'session', rateLimit })
    b = await buildApp({ backend: 'jwt', rateLimit })
  })
  after(async () => {
    await a?.destroy()
    await b?.destroy()
    await redis?.quit()
  })

  it('counts the requests of both instances against one limit', async () => {
    const login = (t: TestApp) =>
      t.request({
        method: 'POST',
        url: '/login',
        payload: { email: uniqueEmail(), password: PASSWORD },
        remoteAddress: '203.0.113.7',
      })
    for (let i = 0; i < 3; i++) {
      assert.equal((await login(a)).statusCode, 401)
      assert.equal((await login(b)).statusCode, 401)
    }
    assertLimited(await login(a))
    assertLimited(await login(b))
    // Another address still gets through on both.
    const other = await a.request({
      method: 'POST',
      url: '/login',
      payload: { email: uniqueEmail(), password: PASSWORD },
      remoteAddress: '203.0.113.8',
    })
    assert.equal(other.statusCode, 401)
  })
})
