/**
 * `POST /login` and `POST /logout` on the three backends: the credential each issues (cookie attributes,
 * Bearer body), generic failures, rotation, lifetimes, forged tokens, and the end of every credential on
 * logout, password change, reset, deactivation and deletion.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { TokenCodec, tokenPurposes } from '../../src/tokens/token-codec.js'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  cookieOf,
  json,
  PASSWORD,
  SECRET,
  type TestApp,
  uniqueEmail,
} from './build-app.js'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const unb64 = (part: string) =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>

/** The credential value a login header carries (the cookie value or the Bearer token). */
function credentialOf(headers: Record<string, string>): string {
  if (headers.authorization) return headers.authorization.slice('Bearer '.length)
  return (headers.cookie ?? '').split('=').slice(1).join('=')
}

for (const backend of backends) {
  describe(`auth routes, ${backend} backend`, () => {
    let t: TestApp
    /** Headers that carry a raw credential value in this backend's place. */
    const carry = (value: string): Record<string, string> =>
      t.cookieName ? { cookie: `${t.cookieName}=${value}` } : { authorization: `Bearer ${value}` }
    const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })

    before(async () => {
      t = await buildApp({ backend, session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 1800 } })
    })
    after(async () => {
      await t?.destroy()
    })

    describe('POST /login', () => {
      it('answers 200 with the user and issues the credential of the backend', async () => {
        const { email, user } = await t.createUser({ displayName: 'Ada' })
        const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        const body = json(res)
        assert.equal(body.id, user.id)
        assert.equal(body.email, email)
        assert.equal(body.displayName, 'Ada')
        assert.deepEqual(body.roles, [])
        if (backend === 'jwt') {
          assert.equal(res.headers['set-cookie'], undefined)
          assert.equal(body.tokenType, 'Bearer')
          assert.equal(body.expiresIn, 900)
          assert.match(String(body.accessToken), /^[\w-]+\.[\w-]+\.[\w-]+$/)
          const ok = await me({ authorization: `Bearer ${body.accessToken}` })
          assert.equal(ok.statusCode, 200)
          assert.equal(json(ok).id, user.id)
        } else {
          assert.equal(body.accessToken, undefined)
          assert.equal(body.tokenType, undefined)
          const cookie = cookieOf(res, t.cookieName!)
          assert.ok(cookie, `sets ${t.cookieName}`)
          assert.ok(t.cookieName!.startsWith('__Host-'))
          assert.equal(cookie.httpOnly, true)
          assert.equal(cookie.secure, true)
          assert.equal(cookie.sameSite, 'Lax')
          assert.equal(cookie.path, '/')
          assert.equal(cookie.domain, undefined)
          assert.ok(!res.body.includes(cookie.value), 'the credential is not in the body')
          if (backend === 'session') {
            assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')
            assert.equal(cookie.maxAge, 1800, 'the cookie lives no longer than the absolute timeout')
          } else {
            assert.match(cookie.value, /^[\w-]+\.[\w-]+\.[\w-]+$/)
            assert.equal(cookie.maxAge, 900)
          }
          assert.equal((await me({ cookie: `${cookie.name}=${cookie.value}` })).statusCode, 200)
        }
      })

      it('answers one generic 401 for an unknown user and a wrong password', async () => {
        const { email } = await t.createUser()
        const wrong = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'not the password at all' },
        })
        const unknown = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: uniqueEmail('nobody'), password: PASSWORD },
        })
        assertProblem(wrong, 401, 'ERR_INVALID_CREDENTIALS')
        assert.equal(unknown.statusCode, wrong.statusCode)
        assert.equal(unknown.body, wrong.body)
        assert.equal(unknown.headers['content-type'], wrong.headers['content-type'])
        assert.equal(wrong.headers['set-cookie'], undefined)
      })

      it('answers 403 ERR_INACTIVE to a deactivated user only after a correct password', async () => {
        const { email } = await t.createUser({ active: false })
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          403,
          'ERR_INACTIVE',
        )
        const wrong = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'wrong wrong' },
        })
        const generic = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: uniqueEmail('nobody'), password: 'wrong wrong' },
        })
        assertProblem(wrong, 401, 'ERR_INVALID_CREDENTIALS')
        assert.equal(wrong.body, generic.body)
      })

      it('answers 403 ERR_NOT_VERIFIED to an unverified user only after a correct password', async () => {
        const { email } = await t.createUser({ verified: false })
        const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
        assertProblem(res, 403, 'ERR_NOT_VERIFIED')
        assert.equal(res.headers['set-cookie'], undefined)
        const wrong = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'wrong wrong' },
        })
        const generic = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: uniqueEmail('nobody'), password: 'wrong wrong' },
        })
        assertProblem(wrong, 401, 'ERR_INVALID_CREDENTIALS')
        assert.equal(wrong.body, generic.body)
        assert.equal(wrong.headers['content-type'], generic.headers['content-type'])
      })

      it('refuses an unknown field, a missing field and a number as password with 400 naming the field', async () => {
        const { email } = await t.createUser()
        const extra = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: PASSWORD, remember: true },
        })
        assertProblem(extra, 400, 'ERR_VALIDATION')
        assert.match(json(extra).detail as string, /remember/)
        const missing = await t.request({ method: 'POST', url: '/login', payload: { email } })
        assertProblem(missing, 400, 'ERR_VALIDATION')
        assert.match(json(missing).detail as string, /password/)
        const numeric = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 12345678 },
        })
        assertProblem(numeric, 400, 'ERR_VALIDATION')
        assert.match(json(numeric).detail as string, /password/)
      })
    })

    describe('POST /logout', () => {
      it('answers 204 and ends that credential only', async () => {
        const { email } = await t.createUser()
        const first = await t.login(email)
        const second = await t.login(email)
        const res = await t.request({ method: 'POST', url: '/logout', headers: first })
        assert.equal(res.statusCode, 204)
        assert.equal(res.body, '')
        if (t.cookieName) {
          const cleared = cookieOf(res, t.cookieName)
          assert.ok(cleared, 'the cookie is cleared')
          assert.equal(cleared.value, '')
          assert.equal(cleared.maxAge, 0)
          assert.equal(res.headers['clear-site-data'], '"cookies"')
        }
        assertProblem(await me(first), 401, 'ERR_UNAUTHENTICATED')
        assertProblem(await t.request({ method: 'POST', url: '/logout', headers: first }), 401)
        assert.equal((await me(second)).statusCode, 200, 'another credential of the user still works')
      })

      it('answers 401 without a credential', async () => {
        assertProblem(await t.request({ method: 'POST', url: '/logout' }), 401, 'ERR_UNAUTHENTICATED')
      })

      it('is not a GET: GET /logout ends nothing', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const res = await t.request({ method: 'GET', url: '/logout', headers })
        assert.equal(res.statusCode, 405)
        assert.equal(res.headers.allow, 'POST')
        assert.equal((await me(headers)).statusCode, 200)
      })
    })

    describe('credentials end for every credential of the user on the next request', () => {
      const twoCredentials = async () => {
        const created = await t.createUser()
        const a = await t.login(created.email)
        const b = await t.login(created.email)
        assert.equal((await me(a)).statusCode, 200)
        assert.equal((await me(b)).statusCode, 200)
        return { ...created, a, b }
      }

      it('after a password change', async () => {
        const { email, a, b } = await twoCredentials()
        const res = await t.request({
          method: 'POST',
          url: '/users/me/password',
          headers: a,
          payload: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
        })
        assert.equal(res.statusCode, 204)
        assertProblem(await me(b), 401)
        if (backend === 'jwt') assertProblem(await me(a), 401)
        await t.login(email, 'a brand new password')
      })

      it('after a password reset', async () => {
        const { email, a, b } = await twoCredentials()
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
        const token = await t.tokenFor(email, /reset/i)
        const res = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token, password: 'reset to something new' },
        })
        assert.equal(res.statusCode, 204)
        assertProblem(await me(a), 401)
        assertProblem(await me(b), 401)
      })

      it('after deactivation by an admin, and the login is then refused', async () => {
        const admin = await t.admin()
        const { user, email, a, b } = await twoCredentials()
        const res = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin.headers,
          payload: { isActive: false },
        })
        assert.equal(res.statusCode, 200)
        assert.equal(json(res).isActive, false)
        assertProblem(await me(a), 401)
        assertProblem(await me(b), 401)
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          403,
          'ERR_INACTIVE',
        )
        // Reactivation does not bring the old credentials back.
        await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin.headers,
          payload: { isActive: true },
        })
        assertProblem(await me(a), 401)
      })

      it('after an admin marks the user unverified', async () => {
        const admin = await t.admin()
        const { user, a } = await twoCredentials()
        const res = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin.headers,
          payload: { isVerified: false },
        })
        assert.equal(res.statusCode, 200)
        assertProblem(await me(a), 401)
      })

      it('after deletion', async () => {
        const admin = await t.admin()
        const { user, a, b } = await twoCredentials()
        const res = await t.request({ method: 'DELETE', url: `/users/${user.id}`, headers: admin.headers })
        assert.equal(res.statusCode, 200)
        assertProblem(await me(a), 401)
        assertProblem(await me(b), 401)
      })
    })

    describe('credentials that are not ours', () => {
      it('refuses a verification token and a reset token in place of the credential', async () => {
        const email = uniqueEmail('tok')
        await t.request({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
        const verifyToken = await t.tokenFor(email, /verify/i)
        assertProblem(await me(carry(verifyToken)), 401)
        assertProblem(await me({ authorization: `Bearer ${verifyToken}` }), 401)
        const user = await t.createUser()
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email: user.email } })
        const resetToken = await t.tokenFor(user.email, /reset/i)
        assertProblem(await me(carry(resetToken)), 401)
        assertProblem(await me({ authorization: `Bearer ${resetToken}` }), 401)
      })

      it('refuses forged, none-alg, tampered and garbage credentials', async () => {
        const victim = await t.createUser()
        const other = await t.createUser()
        const headers = await t.login(other.email)
        const value = credentialOf(headers)
        const forgeries: string[] = [randomBytes(32).toString('base64url'), 'x'.repeat(5000), 'a.b.c']
        if (backend !== 'session') {
          const [h, p] = value.split('.') as [string, string]
          const header = unb64(h)
          const payload = { ...unb64(p), sub: String(victim.user.id) }
          const resign = (secret: string, head = h, body = b64(payload)) =>
            `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`
          forgeries.push(
            resign('another secret that is long enough to be a key!!'),
            `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`,
            `${b64({ ...header, alg: 'none' })}.${b64(payload)}.${value.split('.')[2]}`,
            `${b64({ ...header, alg: 'nOnE' })}.${b64(payload)}.AA`,
            `${h}.${b64(payload)}.${value.split('.')[2]}`,
            resign(
              'another secret that is long enough to be a key!!',
              b64({ ...header, kid: "../../etc/passwd' OR 1=1--" }),
            ),
            resign(
              'attacker key material, long enough for HS256!!',
              b64({ ...header, jwk: { kty: 'oct', k: 'YQ' } }),
            ),
            `${h}.${p}.${value.split('.')[2]}.AAAA.BBBB`,
            JSON.stringify({ payload: p, protected: h, signature: value.split('.')[2] }),
            `${value}"`,
          )
        }
        for (const forged of forgeries) {
          const res = await me(carry(forged))
          assertProblem(res, 401, 'ERR_UNAUTHENTICATED')
        }
        assert.equal((await me(headers)).statusCode, 200, 'the genuine credential still works')
      })

      it('reads the credential only from its own place', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const value = credentialOf(headers)
        if (backend === 'jwt') {
          for (const name of [
            '__Host-fastify-users-token',
            'fastify-users-token',
            '__Host-fastify-users-session',
          ]) {
            assertProblem(await me({ cookie: `${name}=${value}` }), 401)
          }
        } else {
          assertProblem(await me({ authorization: `Bearer ${value}` }), 401)
        }
        for (const name of ['token', 'sid', 'access_token', 'session']) {
          assertProblem(await t.request({ method: 'GET', url: `/users/me?${name}=${value}` }), 401)
        }
      })
    })

    if (backend === 'jwt' || backend === 'jwt-cookie') {
      it('refuses an access token of another issuer or issued in the future', async () => {
        const { user } = await t.createUser()
        const claims = { sub: String(user.id), lifetimeSeconds: 900, claims: { ver: user.authVersion } }
        const genuine = t.app.users.tokens.sign(tokenPurposes.access, claims)
        assert.equal((await me(carry(genuine))).statusCode, 200, 'the harness signs a genuine token')
        const otherIssuer = new TokenCodec({ secret: SECRET, issuer: 'someone-else' })
        assertProblem(await me(carry(otherIssuer.sign(tokenPurposes.access, claims))), 401)
        const future = new TokenCodec({ secret: SECRET, clock: { now: () => t.clock.now() + 120_000 } })
        assertProblem(await me(carry(future.sign(tokenPurposes.access, claims))), 401)
        const verifyPurpose = t.app.users.tokens.sign(tokenPurposes.verify, claims)
        assertProblem(await me(carry(verifyPurpose)), 401)
      })

      it('expires access tokens after 900 seconds', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        t.clock.advance(890)
        assert.equal((await me(headers)).statusCode, 200)
        t.clock.advance(16)
        assertProblem(await me(headers), 401)
      })
    }

    if (backend === 'session') {
      describe('sessions', () => {
        it('stores only the SHA-256 of the cookie', async () => {
          const { user, email } = await t.createUser()
          const headers = await t.login(email)
          const secret = credentialOf(headers)
          const rows = await t.db.selectFrom('sessions').selectAll().where('user_id', '=', user.id).execute()
          assert.equal(rows.length, 1)
          assert.equal(rows[0]?.id, createHash('sha256').update(secret).digest('hex'))
          const all = await t.db.selectFrom('sessions').selectAll().execute()
          assert.ok(!JSON.stringify(all).includes(secret), 'the raw secret is stored nowhere')
        })

        it('starts a new session at every login: a planted cookie ends up invalid', async () => {
          const { email } = await t.createUser()
          // A value the server never issued is not adopted.
          const planted = randomBytes(32).toString('base64url')
          const res = await t.request({
            method: 'POST',
            url: '/login',
            headers: carry(planted),
            payload: { email, password: PASSWORD },
          })
          assert.equal(res.statusCode, 200)
          const issued = cookieOf(res, t.cookieName!)
          assert.ok(issued)
          assert.notEqual(issued.value, planted)
          assertProblem(await me(carry(planted)), 401)
          // A session issued earlier (say, the attacker's own, planted in the victim's browser) ends at login.
          const attacker = await t.createUser()
          const attackerSession = credentialOf(await t.login(attacker.email))
          const victimLogin = await t.request({
            method: 'POST',
            url: '/login',
            headers: carry(attackerSession),
            payload: { email, password: PASSWORD },
          })
          const fresh = cookieOf(victimLogin, t.cookieName!)
          assert.ok(fresh)
          assert.notEqual(fresh.value, attackerSession)
          assertProblem(await me(carry(attackerSession)), 401)
          assert.equal((await me(carry(fresh.value))).statusCode, 200)
        })

        it('ends a session after the idle timeout', async () => {
          const { email } = await t.createUser()
          const headers = await t.login(email)
          t.clock.advance(590)
          assert.equal((await me(headers)).statusCode, 200, 'activity keeps it alive')
          t.clock.advance(590)
          assert.equal((await me(headers)).statusCode, 200)
          t.clock.advance(601)
          assertProblem(await me(headers), 401)
        })

        it('ends a session after the absolute timeout, whatever the activity', async () => {
          const { email } = await t.createUser()
          const headers = await t.login(email)
          for (let elapsed = 0; elapsed < 1500; elapsed += 500) {
            t.clock.advance(500)
            assert.equal((await me(headers)).statusCode, 200, `alive after ${elapsed + 500} s`)
          }
          t.clock.advance(301)
          assertProblem(await me(headers), 401)
        })
      })
    }
  })
}

for (const backend of ['session', 'jwt-cookie'] as const) {
  describe(`cookie: { secure: false }, ${backend} backend`, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({ backend, cookie: { secure: false } })
    })
    after(async () => {
      await t?.destroy()
    })
    it('sets a cookie without Secure and without the __Host- prefix', async () => {
      const { email } = await t.createUser()
      const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
      assert.equal(res.statusCode, 200)
      // jwt-cookie also sets its refresh cookie, `fastify-users-token-refresh` (tested in refresh.ts).
      assert.equal(res.cookies.length, backend === 'session' ? 1 : 2)
      const cookie = res.cookies[0]!
      assert.equal(cookie.name, backend === 'session' ? 'fastify-users-session' : 'fastify-users-token')
      if (backend !== 'session') {
        assert.equal(res.cookies[1]?.name, 'fastify-users-token-refresh')
        assert.ok(!res.cookies[1]?.secure)
      }
      assert.ok(!cookie.secure)
      assert.equal(cookie.httpOnly, true)
      assert.equal(cookie.sameSite, 'Lax')
      const me = await t.request({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: `${cookie.name}=${cookie.value}` },
      })
      assert.equal(me.statusCode, 200)
    })
  })
}

describe('cookie: { sameSite: "strict" }', () => {
  let t: TestApp
  before(async () => {
    t = await buildApp({ backend: 'session', cookie: { sameSite: 'strict' } })
  })
  after(async () => {
    await t?.destroy()
  })
  it('sets SameSite=Strict', async () => {
    const { email } = await t.createUser()
    const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    assert.equal(cookieOf(res, t.cookieName!)?.sameSite, 'Strict')
  })
})
