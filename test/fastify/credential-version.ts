/**
 * One switch ends every credential, on one database: a user with TOTP on holds one of each kind (a login
 * session with its step-up proof, a Bearer access token with its refresh token, a JWT cookie with its
 * refresh cookie, and a login challenge waiting for its second step), then the credential version moves
 * by a password change, a password reset, deactivation (and reactivation), deletion, or "log out
 * everywhere"; every one of them is refused afterwards, whatever route it is shown to.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import type { TestDialect } from '../helpers/databases.js'
import { assertProblem, buildApp, cookieOf, json, PASSWORD, type TestApp } from './build-app.js'

const SESSION_COOKIE = '__Host-fastify-users-session'
const TOKEN_COOKIE = '__Host-fastify-users-token'
const REFRESH_COOKIE = '__Secure-fastify-users-token-refresh'
const LOGIN = { session: '/login', jwt: '/auth/jwt/login', 'jwt-cookie': '/auth/jwt-cookie/login' } as const

/** How the credential version moves, through the route or the service a real caller would use. */
type Trigger = (
  t: TestApp,
  user: { id: unknown; email: string },
  session: Record<string, string>,
) => Promise<void>

const triggers: Record<string, Trigger> = {
  'a password change': async (t, user) => {
    await t.app.users.changePassword(user.id as never, PASSWORD, 'another long passphrase 42')
  },
  'a password reset': async (t, user) => {
    await t.request({ method: 'POST', url: '/forgot-password', payload: { email: user.email } })
    const token = await t.tokenFor(user.email, /reset/i)
    const res = await t.request({
      method: 'POST',
      url: '/reset-password',
      payload: { token, password: 'another long passphrase 42' },
    })
    assert.equal(res.statusCode, 204, res.body)
  },
  'deactivation, even followed by reactivation': async (t, user) => {
    await t.app.users.updateUser(user.id as never, { isActive: false })
    await t.app.users.updateUser(user.id as never, { isActive: true })
  },
  deletion: async (t, user) => {
    await t.app.users.deleteUser(user.id as never)
  },
  '"log out everywhere"': async (t, _user, session) => {
    const res = await t.request({ method: 'POST', url: '/users/me/logout-everywhere', headers: session })
    assert.equal(res.statusCode, 204, res.body)
  },
}

/** Registers the suite on one dialect. */
export function credentialVersionSuite(dialect: TestDialect): void {
  describe(`the credential version ends every kind of credential, ${dialect.name}`, {
    skip: dialect.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        authBackend: undefined,
        auth: { backends: ['session', 'jwt', 'jwt-cookie'] },
        routes: { twoFactor: {} },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    /** The code of the current step; the clock then moves on a step, as each code works once. */
    const nextCode = (secret: string) => {
      const code = generateHOTP(
        decodeBase32IgnorePadding(secret),
        BigInt(Math.floor(t.clock.now() / 30_000)),
        6,
      )
      t.clock.advance(30)
      return code
    }
    const passwordStep = async (backend: keyof typeof LOGIN, email: string) => {
      const res = await t.request({
        method: 'POST',
        url: LOGIN[backend],
        payload: { email, password: PASSWORD },
      })
      assert.equal(res.statusCode, 202, res.body)
      return json<{ challenge: string }>(res).challenge
    }
    const secondStep = async (backend: keyof typeof LOGIN, email: string, secret: string) => {
      const challenge = await passwordStep(backend, email)
      const res = await t.request({
        method: 'POST',
        url: `${LOGIN[backend]}/2fa`,
        payload: { challenge, code: nextCode(secret) },
      })
      assert.equal(res.statusCode, 200, res.body)
      return res
    }

    /** A user with TOTP on, holding one credential of every kind. */
    const holder = async () => {
      const { user, email } = await t.createUser()
      const first = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
      const setup = { cookie: `${SESSION_COOKIE}=${cookieOf(first, SESSION_COOKIE)!.value}` }
      const { secret } = json<{ secret: string }>(
        await t.request({ method: 'POST', url: '/users/me/2fa/totp', headers: setup }),
      )
      const confirmed = await t.request({
        method: 'POST',
        url: '/users/me/2fa/totp/confirm',
        headers: setup,
        payload: { code: nextCode(secret) },
      })
      assert.equal(confirmed.statusCode, 200, confirmed.body)

      const sessionLogin = await secondStep('session', email, secret)
      const session = { cookie: `${SESSION_COOKIE}=${cookieOf(sessionLogin, SESSION_COOKIE)!.value}` }
      const bearer = json<{ accessToken: string; refreshToken: string }>(
        await secondStep('jwt', email, secret),
      )
      const cookieLogin = await secondStep('jwt-cookie', email, secret)
      const jwtCookie = { cookie: `${TOKEN_COOKIE}=${cookieOf(cookieLogin, TOKEN_COOKIE)!.value}` }
      const refreshCookie = { cookie: `${REFRESH_COOKIE}=${cookieOf(cookieLogin, REFRESH_COOKIE)!.value}` }
      const challenge = await passwordStep('session', email)
      return {
        user: { id: user.id, email },
        secret,
        session,
        bearer,
        jwtCookie,
        refreshCookie,
        challenge,
      }
    }

    for (const [name, trigger] of Object.entries(triggers)) {
      it(`${name} ends sessions, access tokens, refresh families, step-up proofs and login challenges`, async () => {
        const h = await holder()
        const bearer = { authorization: `Bearer ${h.bearer.accessToken}` }
        const me = (headers: Record<string, string>) =>
          t.request({ method: 'GET', url: '/users/me', headers })
        for (const headers of [h.session, bearer, h.jwtCookie])
          assert.equal((await me(headers)).statusCode, 200)
        // The session's login is a fresh proof: it could turn TOTP off now (not done, to keep the factor).
        const status = await t.request({ method: 'GET', url: '/users/me/2fa', headers: h.session })
        assert.equal(json<{ totp: boolean }>(status).totp, true)

        await trigger(t, h.user, h.session)

        for (const headers of [h.session, bearer, h.jwtCookie]) assertProblem(await me(headers), 401)
        // The step-up proof went with its credential: the sensitive action is refused and changes nothing.
        for (const headers of [h.session, bearer, h.jwtCookie]) {
          assertProblem(await t.request({ method: 'DELETE', url: '/users/me/2fa/totp', headers }), 401)
          assertProblem(
            await t.request({ method: 'POST', url: '/users/me/2fa/recovery-codes', headers }),
            401,
          )
        }
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/auth/jwt/refresh',
            payload: { refreshToken: h.bearer.refreshToken },
          }),
          401,
          'ERR_UNAUTHENTICATED',
        )
        assertProblem(
          await t.request({ method: 'POST', url: '/auth/jwt-cookie/refresh', headers: h.refreshCookie }),
          401,
          'ERR_UNAUTHENTICATED',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/login/2fa',
            payload: { challenge: h.challenge, code: nextCode(h.secret) },
          }),
          401,
          'ERR_MFA_CHALLENGE',
        )
      })
    }
  })
}
