/**
 * `POST /forgot-password`, `POST /reset-password` and `POST /users/me/password` on the three backends.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertProblem,
  backends,
  buildApp,
  cookieOf,
  json,
  PASSWORD,
  problemFields,
  type TestApp,
  uniqueEmail,
} from './build-app.js'

const NEW_PASSWORD = 'an entirely new passphrase'

for (const backend of backends) {
  describe(`password routes, ${backend} backend`, () => {
    let t: TestApp
    const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })
    const loginStatus = async (email: string, password: string) =>
      (await t.request({ method: 'POST', url: '/login', payload: { email, password } })).statusCode

    before(async () => {
      t = await buildApp({ backend })
    })
    after(async () => {
      await t?.destroy()
    })

    describe('POST /forgot-password', () => {
      it('answers 202 with the same body for a known and an unknown address; mails only the known one', async () => {
        const { email } = await t.createUser()
        const unknown = uniqueEmail('nobody')
        const known = await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
        const other = await t.request({
          method: 'POST',
          url: '/forgot-password',
          payload: { email: unknown },
        })
        assert.equal(known.statusCode, 202)
        assert.equal(other.statusCode, 202)
        assert.equal(known.body, other.body)
        assert.equal(known.headers['content-type'], other.headers['content-type'])
        assert.equal(typeof json(known).message, 'string')
        const mails = await t.mailsTo(email)
        assert.equal(mails.length, 1)
        assert.match(mails[0]!.text, /https:\/\/app\.example\.com\/reset-password#token=/)
        assert.equal((await t.mailsTo(unknown)).length, 0)
        // Asking changes nothing yet.
        assert.equal(await loginStatus(email, PASSWORD), 200)
      })

      it('refuses a malformed address with 400 as /register does (it was a 202)', async () => {
        for (const email of ['not-an-address', 'a@b', '@example.com', 'two@@example.com']) {
          const res = await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
          assertProblem(res, 400, 'ERR_VALIDATION')
          assert.deepEqual(problemFields(res), ['email'], email)
        }
      })

      it('refuses a malformed body with 400 naming the field', async () => {
        const res = await t.request({
          method: 'POST',
          url: '/forgot-password',
          payload: { email: 'x@y.z', extra: 1 },
        })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(res), ['extra'])
      })
    })

    describe('POST /reset-password', () => {
      const resetToken = async (email: string) => {
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
        return t.tokenFor(email, /reset/i)
      }

      it('answers 204, sets the password, logs nobody in, and works once', async () => {
        const { email } = await t.createUser()
        const token = await resetToken(email)
        const res = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token, password: NEW_PASSWORD },
        })
        assert.equal(res.statusCode, 204)
        assert.equal(res.body, '')
        assert.equal(res.headers['set-cookie'], undefined)
        assert.equal(await loginStatus(email, PASSWORD), 401)
        assert.equal(await loginStatus(email, NEW_PASSWORD), 200)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token, password: 'yet another one 1' },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )
        assert.equal(await loginStatus(email, NEW_PASSWORD), 200)
        const notices = (await t.mailsTo(email)).filter((m) => /password was changed/i.test(m.subject))
        assert.equal(notices.length, 1)
      })

      it('refuses a password that fails the policy with 400 ERR_PASSWORD_POLICY, and the token still works', async () => {
        const { email } = await t.createUser()
        const token = await resetToken(email)
        assertProblem(
          await t.request({ method: 'POST', url: '/reset-password', payload: { token, password: 'short' } }),
          400,
          'ERR_PASSWORD_POLICY',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token, password: 'x'.repeat(129) },
          }),
          400,
          'ERR_PASSWORD_POLICY',
        )
        assert.equal(await loginStatus(email, PASSWORD), 200)
        const res = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token, password: NEW_PASSWORD },
        })
        assert.equal(res.statusCode, 204)
      })

      it('refuses a token of another purpose, a tampered one, an expired one, and one outdated by a password change', async () => {
        const email = uniqueEmail('rst')
        await t.request({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
        const verifyToken = await t.tokenFor(email, /verify/i)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token: verifyToken, password: NEW_PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )

        const { email: other } = await t.createUser()
        const token = await resetToken(other)
        const [h, p, s] = token.split('.') as [string, string, string]
        const tampered = `${h}.${p}x.${s}`
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token: tampered, password: NEW_PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )

        const headers = await t.login(other)
        const change = await t.request({
          method: 'POST',
          url: '/users/me/password',
          headers,
          payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        })
        assert.equal(change.statusCode, 204)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token, password: 'something else 42' },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )

        const { email: late } = await t.createUser()
        const lateToken = await resetToken(late)
        t.clock.advance(3600 + 10)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token: lateToken, password: NEW_PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )
      })

      it('refuses a malformed body with 400 naming the field', async () => {
        const missing = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { password: NEW_PASSWORD },
        })
        assertProblem(missing, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(missing), ['token'])
        const numeric = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token: 'a.b.c', password: 12345678 },
        })
        assertProblem(numeric, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(numeric), ['password'])
      })
    })

    describe('POST /users/me/password', () => {
      it('answers 403 ERR_WRONG_PASSWORD to a wrong current password and changes nothing', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/me/password',
            headers,
            payload: { currentPassword: 'not my password', newPassword: NEW_PASSWORD },
          }),
          403,
          'ERR_WRONG_PASSWORD',
        )
        assert.equal((await me(headers)).statusCode, 200)
        assert.equal(await loginStatus(email, NEW_PASSWORD), 401)
      })

      it('answers 400 ERR_PASSWORD_POLICY to a new password that fails the policy', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/me/password',
            headers,
            payload: { currentPassword: PASSWORD, newPassword: 'short' },
          }),
          400,
          'ERR_PASSWORD_POLICY',
        )
      })

      it('answers 204, ends the other credentials, and notifies', async () => {
        const { email } = await t.createUser()
        const mine = await t.login(email)
        const other = await t.login(email)
        const res = await t.request({
          method: 'POST',
          url: '/users/me/password',
          headers: mine,
          payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        })
        assert.equal(res.statusCode, 204)
        assertProblem(await me(other), 401)
        if (t.cookieName) {
          const fresh = cookieOf(res, t.cookieName)
          assert.ok(fresh, 'the caller receives a fresh cookie')
          assert.equal(fresh.httpOnly, true)
          assert.equal(fresh.secure, true)
          assert.notEqual(`${t.cookieName}=${fresh.value}`, mine.cookie)
          const ok = await me({ cookie: `${t.cookieName}=${fresh.value}` })
          assert.equal(ok.statusCode, 200)
          assert.equal(json(ok).email, email)
          assertProblem(await me(mine), 401)
        } else {
          assert.equal(res.headers['set-cookie'], undefined)
          assertProblem(await me(mine), 401)
        }
        assert.equal(await loginStatus(email, PASSWORD), 401)
        assert.equal(await loginStatus(email, NEW_PASSWORD), 200)
        const notices = (await t.mailsTo(email)).filter((m) => /password was changed/i.test(m.subject))
        assert.equal(notices.length, 1)
      })

      it('answers 401 without a credential, and 400 to unknown fields', async () => {
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/me/password',
            payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
          }),
          401,
          'ERR_UNAUTHENTICATED',
        )
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const res = await t.request({
          method: 'POST',
          url: '/users/me/password',
          headers,
          payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, password: NEW_PASSWORD },
        })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(res), ['password'])
      })
    })
  })
}
