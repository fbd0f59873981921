/**
 * `POST /register`, `POST /verify` and `POST /verify/request` on the three backends: no enumeration
 * ("Enumeration and timing" in docs/security.md), no mass assignment ("Input and output"), single-use
 * purpose-bound tokens and no auto-login ("Tokens").
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  json,
  PASSWORD,
  problemFields,
  type TestApp,
  uniqueEmail,
} from './build-app.js'

/** Status, content type and body, byte for byte. */
function sameAnswer(a: LightMyRequestResponse, b: LightMyRequestResponse): void {
  assert.equal(a.statusCode, b.statusCode)
  assert.equal(a.headers['content-type'], b.headers['content-type'])
  assert.equal(a.headers['content-length'], b.headers['content-length'])
  assert.equal(a.headers['set-cookie'], b.headers['set-cookie'])
  assert.equal(a.body, b.body)
}

for (const backend of backends) {
  describe(`registration and verification, ${backend} backend`, () => {
    let t: TestApp
    const register = (payload: unknown, headers: Record<string, string> = {}) =>
      t.request({ method: 'POST', url: '/register', payload: payload as Record<string, unknown>, headers })
    const usersWith = async (email: string) =>
      (await t.db.selectFrom('users').select('id').where('email', '=', email).execute()).length

    before(async () => {
      t = await buildApp({ backend })
    })
    after(async () => {
      await t?.destroy()
    })

    describe('POST /register (verification required)', () => {
      it('answers 202 with the same body for a new and a taken address', async () => {
        const email = uniqueEmail('reg')
        const fresh = await register({ email, password: PASSWORD, displayName: 'New' })
        assert.equal(fresh.statusCode, 202)
        assert.match(String(fresh.headers['content-type']), /^application\/json/)
        assert.equal(typeof json(fresh).message, 'string')
        const taken = await register({ email: email.toUpperCase(), password: 'another password 123' })
        sameAnswer(fresh, taken)
        const otherTaken = await register({ email, password: PASSWORD })
        sameAnswer(fresh, otherTaken)
        assert.equal(await usersWith(email), 1)
      })

      it('mails a verification link to a new address, and a notice without it to the owner of a taken one', async () => {
        const email = uniqueEmail('reg')
        await register({ email, password: PASSWORD })
        const first = await t.mailsTo(email)
        assert.equal(first.length, 1)
        assert.match(first[0]!.subject, /verify/i)
        assert.match(first[0]!.text, /https:\/\/app\.example\.com\/verify#token=/)
        const verified = await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token: await t.tokenFor(email, /verify/i), password: PASSWORD },
        })
        assert.equal(verified.statusCode, 200)
        await register({ email, password: 'someone else entirely' })
        const all = await t.mailsTo(email)
        assert.equal(all.length, 2)
        const notice = all[1]!
        assert.match(notice.subject, /tried to register/i)
        assert.doesNotMatch(notice.text, /\/verify\?/)
        // The verified owner's password did not change (an unverified one is voided: see the pre-account
        // hijacking tests below).
        await t.login(email)
      })

      it('stores the custom field and creates an unverified, role-less, active user', async () => {
        const email = uniqueEmail('reg')
        await register({ email, password: PASSWORD, displayName: 'Grace' })
        const row = await t.db
          .selectFrom('users')
          .selectAll()
          .where('email', '=', email)
          .executeTakeFirstOrThrow()
        assert.equal(row.display_name, 'Grace')
        assert.equal(Boolean(row.is_verified), false)
        assert.equal(Boolean(row.is_active), true)
      })

      it('refuses mass assignment with 400 naming the field, and creates nothing', async () => {
        for (const [field, value] of [
          ['isVerified', true],
          ['isActive', true],
          ['roles', ['admin']],
          ['role', 'admin'],
          ['id', '01900000-0000-7000-8000-000000000000'],
          ['passwordHash', '$argon2id$v=19$m=19456,t=2,p=1$x$y'],
          ['authVersion', 5],
          ['createdAt', '2020-01-01T00:00:00.000Z'],
          ['isSuperuser', true],
        ] as const) {
          const email = uniqueEmail('mass')
          const res = await register({ email, password: PASSWORD, [field]: value })
          assertProblem(res, 400, 'ERR_VALIDATION')
          assert.deepEqual(problemFields(res), [field])
          assert.equal(await usersWith(email), 0, `${field}: no user created`)
        }
      })

      it('refuses type juggling, bad emails and short passwords with 400', async () => {
        const cases: Array<[Record<string, unknown>, string, string]> = [
          [{ email: uniqueEmail(), password: 12345678 }, 'password', 'ERR_VALIDATION'],
          [{ email: [uniqueEmail(), uniqueEmail()], password: PASSWORD }, 'email', 'ERR_VALIDATION'],
          [{ email: uniqueEmail(), password: { $gt: '' } }, 'password', 'ERR_VALIDATION'],
          [{ email: uniqueEmail(), password: PASSWORD, displayName: 42 }, 'displayName', 'ERR_VALIDATION'],
          [
            { email: uniqueEmail(), password: PASSWORD, displayName: 'x'.repeat(101) },
            'displayName',
            'ERR_VALIDATION',
          ],
          [{ email: 'not-an-email', password: PASSWORD }, 'email', 'ERR_VALIDATION'],
          [{ password: PASSWORD }, 'email', 'ERR_VALIDATION'],
          [{ email: uniqueEmail(), password: 'short' }, 'password', 'ERR_PASSWORD_POLICY'],
        ]
        for (const [payload, field, code] of cases) {
          const res = await register(payload)
          const problem = assertProblem(res, 400, code)
          if (code === 'ERR_VALIDATION')
            assert.ok(problemFields(res).includes(field), `${field} in ${res.body}`)
          else assert.match(problem.detail, /password|characters/i)
        }
      })

      it('ignores or refuses a __proto__ body: no user, no escalation', async () => {
        const email = uniqueEmail('proto')
        const res = await t.request({
          method: 'POST',
          url: '/register',
          headers: { 'content-type': 'application/json' },
          payload: `{"email":"${email}","password":"${PASSWORD}","__proto__":{"isVerified":true,"roles":["admin"]}}`,
        })
        assertProblem(res, 400)
        assert.equal(await usersWith(email), 0)
        assert.equal(({} as Record<string, unknown>).isVerified, undefined)
      })
    })

    describe('POST /verify', () => {
      const registered = async () => {
        const email = uniqueEmail('ver')
        assert.equal((await register({ email, password: PASSWORD })).statusCode, 202)
        return { email, token: await t.tokenFor(email, /verify/i) }
      }

      it('verifies with the token in the body: 200 user, no cookie, no token, no login', async () => {
        const { email, token } = await registered()
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          403,
          'ERR_NOT_VERIFIED',
        )
        const res = await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token, password: PASSWORD },
        })
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        const body = json(res)
        assert.equal(body.email, email)
        assert.equal(body.isVerified, true)
        assert.equal(res.headers['set-cookie'], undefined)
        assert.equal(body.accessToken, undefined)
        assert.ok(!res.body.includes(token))
        await t.login(email)
      })

      it('verifies with ?token= and the password in the body; without it, 400 ERR_PASSWORD_REQUIRED', async () => {
        const { email, token } = await registered()
        assertProblem(
          await t.request({ method: 'POST', url: `/verify?token=${encodeURIComponent(token)}` }),
          400,
          'ERR_PASSWORD_REQUIRED',
        )
        assertProblem(
          await t.request({ method: 'POST', url: `/verify?token=${token}`, payload: {} }),
          400,
          'ERR_PASSWORD_REQUIRED',
        )
        const res = await t.request({
          method: 'POST',
          url: `/verify?token=${token}`,
          payload: { password: PASSWORD },
        })
        assert.equal(res.statusCode, 200, res.body)
        assert.equal(json(res).isVerified, true)
        assert.equal(json(res).email, email)
        assert.equal(res.headers['set-cookie'], undefined)
      })

      it('is not a GET', async () => {
        const { email, token } = await registered()
        const res = await t.request({ method: 'GET', url: `/verify?token=${token}` })
        assertProblem(res, 405, 'ERR_METHOD_NOT_ALLOWED')
        assert.equal(res.headers.allow, 'POST')
        const row = await t.db
          .selectFrom('users')
          .select('is_verified')
          .where('email', '=', email)
          .executeTakeFirst()
        assert.equal(Boolean(row?.is_verified), false)
      })

      it('refuses a reused, expired, tampered, other-purpose or missing token with 400 ERR_INVALID_TOKEN', async () => {
        const { token } = await registered()
        assert.equal(
          (await t.request({ method: 'POST', url: '/verify', payload: { token, password: PASSWORD } }))
            .statusCode,
          200,
        )
        // Regression: a second click said "invalid token"; it says "already verified" (to the link's
        // holder only), with or without the password, and verifying still needs the password.
        for (const payload of [{ token, password: PASSWORD }, { token }]) {
          const again = assertProblem(
            await t.request({ method: 'POST', url: '/verify', payload }),
            400,
            'ERR_INVALID_TOKEN',
          )
          assert.match(again.detail, /already verified/)
        }
        const unverified = await registered()
        const noPassword = await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token: unverified.token },
        })
        assertProblem(noPassword, 400, 'ERR_PASSWORD_REQUIRED')

        const tampered = await registered()
        const [h, p, s] = tampered.token.split('.') as [string, string, string]
        const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token: flipped, password: PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )

        const reset = await t.createUser({ verified: false })
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email: reset.email } })
        const resetToken = await t.tokenFor(reset.email, /reset/i)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token: resetToken, password: PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )

        const expired = await registered()
        t.clock.advance(86_400 + 10)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token: expired.token, password: PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )
        assertProblem(await t.request({ method: 'POST', url: '/verify', payload: {} }), 400, 'ERR_VALIDATION')
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token: 'garbage', password: PASSWORD },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )
      })

      it('refuses a token issued for an address the user no longer has', async () => {
        const { email, token } = await registered()
        const user = await t.app.users.getUserBy({ email })
        assert.ok(user)
        await t.app.users.updateUser(user.id, { email: uniqueEmail('moved') })
        assertProblem(
          await t.request({ method: 'POST', url: '/verify', payload: { token, password: PASSWORD } }),
          400,
          'ERR_INVALID_TOKEN',
        )
      })

      it('refuses unknown fields', async () => {
        const { token } = await registered()
        const res = await t.request({ method: 'POST', url: '/verify', payload: { token, isVerified: true } })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(res), ['isVerified'])
      })
    })

    describe('pre-account hijacking', () => {
      it('the mailbox owner who registers again and completes the reset from the notice ends the squatted password', async () => {
        const victim = uniqueEmail('victim')
        const attacker = await register({ email: victim, password: 'attacker password A' })
        const owner = await register({ email: victim, password: 'owner password B' })
        sameAnswer(attacker, owner)
        const notice = (await t.mailsTo(victim)).find((m) => /tried to register/i.test(m.subject))
        assert.ok(notice)
        const token = await t.tokenFor(victim, /tried to register/i)
        const reset = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token, password: 'owner password B' },
        })
        assert.equal(reset.statusCode, 204)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/login',
            payload: { email: victim, password: 'attacker password A' },
          }),
          401,
          'ERR_INVALID_CREDENTIALS',
        )
        await t.login(victim, 'owner password B')
      })

      it("the victim who opens the link of the attacker's registration cannot make the attacker's password usable", async () => {
        // The attacker registers the victim's address; the victim opens the verification link and, not
        // knowing the attacker's password, cannot complete it. The attacker never gets a verified account.
        const victim = uniqueEmail('victim')
        assert.equal((await register({ email: victim, password: 'attacker password A' })).statusCode, 202)
        const token = await t.tokenFor(victim, /verify/i)
        assertProblem(
          await t.request({ method: 'POST', url: '/verify', payload: { token } }),
          400,
          'ERR_PASSWORD_REQUIRED',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token, password: 'victim password B' },
          }),
          400,
          'ERR_PASSWORD_REQUIRED',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/login',
            payload: { email: victim, password: 'attacker password A' },
          }),
          403,
          'ERR_NOT_VERIFIED',
        )
        // The victim takes the account through "forgot password": the reset verifies it.
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email: victim } })
        const reset = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token: await t.tokenFor(victim, /reset/i), password: 'victim password B' },
        })
        assert.equal(reset.statusCode, 204)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/login',
            payload: { email: victim, password: 'attacker password A' },
          }),
          401,
          'ERR_INVALID_CREDENTIALS',
        )
        await t.login(victim, 'victim password B')
      })

      it('wrong passwords on POST /verify count against the login throttle (429)', async () => {
        const email = uniqueEmail('guess')
        await register({ email, password: PASSWORD })
        const token = await t.tokenFor(email, /verify/i)
        const statuses: number[] = []
        for (let i = 0; i < 8; i++) {
          const res = await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token, password: `guess ${i}` },
          })
          statuses.push(res.statusCode)
        }
        assert.ok(statuses.includes(429), `throttled: ${statuses.join(',')}`)
        assertProblem(
          await t.request({ method: 'POST', url: '/verify', payload: { token, password: PASSWORD } }),
          429,
          'ERR_TOO_MANY_ATTEMPTS',
        )
      })

      it('a verification link mailed before the owner registered cannot verify the squatted password', async () => {
        const victim = uniqueEmail('victim')
        await register({ email: victim, password: 'attacker password A' })
        await register({ email: victim, password: 'owner password B' })
        // The owner finds two mails and follows the verification link.
        const token = await t.tokenFor(victim, /verify/i)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/verify',
            payload: { token, password: 'attacker password A' },
          }),
          400,
          'ERR_INVALID_TOKEN',
        )
        const squatter = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: victim, password: 'attacker password A' },
        })
        assert.notEqual(squatter.statusCode, 200, 'the attacker logs in to the verified account')
      })
    })

    describe('POST /verify/request', () => {
      it('answers 202 with the same body for every address, and mails only an unverified owner', async () => {
        const unverified = await t.createUser({ verified: false })
        const verified = await t.createUser()
        const unknown = uniqueEmail('nobody')
        const answers = []
        for (const email of [unverified.email, verified.email, unknown]) {
          answers.push(await t.request({ method: 'POST', url: '/verify/request', payload: { email } }))
        }
        for (const res of answers) {
          assert.equal(res.statusCode, 202)
          sameAnswer(answers[0]!, res)
        }
        assert.equal((await t.mailsTo(unverified.email)).length, 1)
        assert.equal((await t.mailsTo(verified.email)).length, 0)
        assert.equal((await t.mailsTo(unknown)).length, 0)
        const token = await t.tokenFor(unverified.email, /verify/i)
        const res = await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token, password: PASSWORD },
        })
        assert.equal(res.statusCode, 200)
      })

      it('refuses a malformed body with 400', async () => {
        const res = await t.request({ method: 'POST', url: '/verify/request', payload: { email: 1 } })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(res), ['email'])
      })

      it('refuses a malformed address with 400 as /register does (it was a 202)', async () => {
        for (const email of ['not-an-address', 'a@b', '@example.com', 'two@@example.com']) {
          const res = await t.request({ method: 'POST', url: '/verify/request', payload: { email } })
          assertProblem(res, 400, 'ERR_VALIDATION')
          assert.deepEqual(problemFields(res), ['email'], email)
          const register = await t.request({
            method: 'POST',
            url: '/register',
            payload: { email, password: PASSWORD },
          })
          assertProblem(register, 400, 'ERR_VALIDATION')
        }
      })
    })
  })

  describe(`registration without verification, ${backend} backend`, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({ backend, requireVerificationOnRegistration: false })
    })
    after(async () => {
      await t?.destroy()
    })

    it('answers 201 with the verified user, and 409 ERR_USER_EXISTS for a duplicate', async () => {
      const email = uniqueEmail('open')
      const res = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD, displayName: 'Open' },
      })
      assert.equal(res.statusCode, 201)
      assertNoSecrets(res)
      const body = json(res)
      assert.equal(body.email, email)
      assert.equal(body.isVerified, true)
      assert.equal(body.isActive, true)
      assert.equal(body.displayName, 'Open')
      assert.deepEqual(body.roles, [])
      assert.equal(res.headers['set-cookie'], undefined, 'registration does not log in')
      assertProblem(
        await t.request({
          method: 'POST',
          url: '/register',
          payload: { email: email.toUpperCase(), password: PASSWORD },
        }),
        409,
        'ERR_USER_EXISTS',
      )
      assert.equal((await t.mailsTo(email)).length, 0)
      await t.login(email)
    })
  })
}
