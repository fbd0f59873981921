/**
 * Login throttling over HTTP on the three backends (security.md items 20-26): 429 with `Retry-After`
 * after the free attempts, the same answer for a known and an unknown identifier, the lock lifted by time
 * or by a password reset, and wrong current passwords counted with failed logins.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { assertProblem, backends, buildApp, json, PASSWORD, type TestApp, uniqueEmail } from './build-app.js'

const WRONG = 'not the password at all'
const NEW_PASSWORD = 'an entirely new passphrase'

for (const backend of backends) {
  describe(`login throttling, ${backend} backend`, () => {
    let t: TestApp
    const login = (email: string, password: string) =>
      t.request({ method: 'POST', url: '/login', payload: { email, password } })
    const failLogins = async (email: string, times: number) => {
      for (let i = 0; i < times; i++) assertProblem(await login(email, WRONG), 401, 'ERR_INVALID_CREDENTIALS')
    }
    const assertThrottled = (res: LightMyRequestResponse, retryAfter = '1') => {
      assertProblem(res, 429, 'ERR_TOO_MANY_ATTEMPTS')
      assert.equal(res.headers['retry-after'], retryAfter)
      assert.equal(res.headers['set-cookie'], undefined, 'no credential is issued')
      assert.equal(res.headers['www-authenticate'], undefined)
      assert.equal(res.headers['cache-control'], 'no-store')
    }

    before(async () => {
      t = await buildApp({ backend })
    })
    after(async () => {
      await t?.destroy()
    })

    it('answers 429 ERR_TOO_MANY_ATTEMPTS with Retry-After after 5 failures, even to the right password', async () => {
      const { email } = await t.createUser()
      await failLogins(email, 5)
      assertThrottled(await login(email, PASSWORD))
      assertThrottled(await login(email.toUpperCase(), PASSWORD))
    })

    it('answers a known and an unknown identifier alike, byte for byte', async () => {
      const { email } = await t.createUser()
      const unknown = uniqueEmail('nobody')
      await failLogins(email, 5)
      await failLogins(unknown, 5)
      const known = await login(email, PASSWORD)
      const stranger = await login(unknown, PASSWORD)
      assertThrottled(known)
      assertThrottled(stranger)
      assert.equal(stranger.body, known.body)
      for (const header of ['content-type', 'retry-after', 'content-length', 'cache-control']) {
        assert.equal(stranger.headers[header], known.headers[header], header)
      }
      assert.ok(!known.body.includes(email), 'the body names no account')
    })

    it('lets the right password in once the delay has passed, then counts afresh', async () => {
      const { email, user } = await t.createUser()
      await failLogins(email, 5)
      assertThrottled(await login(email, PASSWORD))
      t.clock.advance(1)
      const ok = await login(email, PASSWORD)
      assert.equal(ok.statusCode, 200, ok.body)
      assert.equal(json(ok).id, user.id)
      await failLogins(email, 5)
      assertThrottled(await login(email, PASSWORD))
    })

    it('doubles the wait with each further failure', async () => {
      const { email } = await t.createUser()
      await failLogins(email, 5)
      assertThrottled(await login(email, WRONG), '1')
      t.clock.advance(1)
      await failLogins(email, 1)
      assertThrottled(await login(email, WRONG), '2')
      t.clock.advance(2)
      await failLogins(email, 1)
      assertThrottled(await login(email, PASSWORD), '4')
    })

    it('counts wrong current passwords on /users/me/password, and then refuses the login too', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      const change = (currentPassword: string) =>
        t.request({
          method: 'POST',
          url: '/users/me/password',
          headers,
          payload: { currentPassword, newPassword: NEW_PASSWORD },
        })
      for (let i = 0; i < 5; i++) assertProblem(await change(WRONG), 403, 'ERR_WRONG_PASSWORD')
      assertThrottled(await change(PASSWORD))
      assertThrottled(await login(email, PASSWORD))
      t.clock.advance(1)
      assert.equal((await change(PASSWORD)).statusCode, 204)
      assert.equal((await login(email, NEW_PASSWORD)).statusCode, 200)
    })

    it('still sends a reset link to a throttled account, and the completed reset lifts the lock', async () => {
      const { email } = await t.createUser()
      await failLogins(email, 5)
      assertThrottled(await login(email, PASSWORD))
      const forgot = await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
      assert.equal(forgot.statusCode, 202)
      const token = await t.tokenFor(email, /reset/i)
      const reset = await t.request({
        method: 'POST',
        url: '/reset-password',
        payload: { token, password: NEW_PASSWORD },
      })
      assert.equal(reset.statusCode, 204, reset.body)
      const ok = await login(email, NEW_PASSWORD)
      assert.equal(ok.statusCode, 200, ok.body)
    })
  })
}

describe('login throttling options', () => {
  let t: TestApp | undefined
  after(async () => {
    await t?.destroy()
  })

  it('loginThrottle: false turns it off', async () => {
    t = await buildApp({ backend: 'session', loginThrottle: false })
    const { email } = await t.createUser()
    for (let i = 0; i < 8; i++)
      assertProblem(
        await t.request({ method: 'POST', url: '/login', payload: { email, password: WRONG } }),
        401,
      )
    await t.login(email)
  })

  it('a configured freeAttempts is applied, and an invalid one fails the registration', async () => {
    const strict = await buildApp({ backend: 'jwt', loginThrottle: { freeAttempts: 2, maxDelaySeconds: 60 } })
    try {
      const { email } = await strict.createUser()
      for (let i = 0; i < 2; i++) {
        assertProblem(
          await strict.request({ method: 'POST', url: '/login', payload: { email, password: WRONG } }),
          401,
        )
      }
      const res = await strict.request({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assertProblem(res, 429, 'ERR_TOO_MANY_ATTEMPTS')
    } finally {
      await strict.destroy()
    }
    await assert.rejects(buildApp({ backend: 'jwt', loginThrottle: { freeAttempts: 0 } }), {
      name: 'TypeError',
      message: /loginThrottle\.freeAttempts/,
    })
  })
})
