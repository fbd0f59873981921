/**
 * The login's second step on one database, with three backends on one app (a session cookie at `/login`,
 * Bearer JWTs at `/auth/jwt/login`, a JWT cookie at `/auth/jwt-cookie/login`): each backend's second step
 * issues exactly what its password login issues (refresh token and refresh cookie included), a challenge
 * of one backend is refused by another's second step, and a passkey answers the second step through a
 * software authenticator (success, another user's passkey refused, a replayed or reused assertion refused,
 * an expired challenge refused, the throttle).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import type { LightMyRequestResponse } from 'fastify'
import type { TestDialect } from '../helpers/databases.js'
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js'
import {
  assertProblem,
  BASE_URL,
  buildApp,
  cookieOf,
  json,
  type ManualClock,
  PASSWORD,
  type TestApp,
} from './build-app.js'

const passkeys = {
  rpId: 'app.example.com',
  rpName: 'Example',
  origins: [BASE_URL],
  challengeLifetimeSeconds: 120,
}
const SESSION_COOKIE = '__Host-fastify-users-session'
const TOKEN_COOKIE = '__Host-fastify-users-token'
const REFRESH_COOKIE = '__Secure-fastify-users-token-refresh'

/** Each backend's login path, in the order of `auth.backends`. */
const LOGIN = { session: '/login', jwt: '/auth/jwt/login', 'jwt-cookie': '/auth/jwt-cookie/login' } as const
type Backend = keyof typeof LOGIN

function codeAt(secret: string, clock: ManualClock): string {
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(clock.now() / 30_000)), 6)
}

/** Registers the second-step suite on one dialect. */
export function secondStepSuite(dialect: TestDialect): void {
  describe(`the login's second step on every backend, ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        authBackend: undefined,
        auth: { backends: ['session', 'jwt', 'jwt-cookie'] },
        routes: { twoFactor: {} },
        passkeys,
      })
    })
    after(async () => {
      await t?.destroy()
    })

    const passwordLogin = (backend: Backend, email: string) =>
      t.request({ method: 'POST', url: LOGIN[backend], payload: { email, password: PASSWORD } })

    /** A session of a user without a second factor yet. */
    const sessionOf = async (email: string) => {
      const res = await passwordLogin('session', email)
      assert.equal(res.statusCode, 200, res.body)
      return { cookie: `${SESSION_COOKIE}=${cookieOf(res, SESSION_COOKIE)!.value}` }
    }

    /** The password step of `backend`: a 202 with a challenge, no credential. */
    const challengeOf = async (backend: Backend, email: string, methods: string[]) => {
      const res = await passwordLogin(backend, email)
      assert.equal(res.statusCode, 202, res.body)
      const body = json<{ mfaRequired: boolean; challenge: string; methods: string[] }>(res)
      assert.deepEqual(body.methods, methods)
      assert.equal(res.cookies.length, 0, 'no cookie before the second step')
      return body.challenge
    }

    /** A user with TOTP on; answers the secret. */
    const totpUser = async () => {
      const { email } = await t.createUser()
      const headers = await sessionOf(email)
      const enrol = await t.request({ method: 'POST', url: '/users/me/2fa/totp', headers })
      const { secret } = json<{ secret: string }>(enrol)
      const confirm = await t.request({
        method: 'POST',
        url: '/users/me/2fa/totp/confirm',
        headers,
        payload: { code: codeAt(secret, t.clock) },
      })
      assert.equal(confirm.statusCode, 200, confirm.body)
      t.clock.advance(30)
      return { email, secret }
    }

    /** A user with one passkey (and no TOTP); answers the authenticator holding it. */
    const passkeyUser = async () => {
      const { email, user } = await t.createUser()
      const headers = await sessionOf(email)
      const options = await t.request({ method: 'POST', url: '/users/me/passkeys/options', headers })
      const device = new SoftwareAuthenticator({ origin: BASE_URL, rpId: passkeys.rpId })
      const created = await t.request({
        method: 'POST',
        url: '/users/me/passkeys',
        headers,
        payload: { credential: device.create(json(options) as never) },
      })
      assert.equal(created.statusCode, 201, created.body)
      return { email, user, device }
    }

    const passkeyOptions = (backend: Backend, challenge: string) =>
      t.request({ method: 'POST', url: `${LOGIN[backend]}/2fa/passkey/options`, payload: { challenge } })

    const secondStep = (backend: Backend, payload: Record<string, unknown>) =>
      t.request({ method: 'POST', url: `${LOGIN[backend]}/2fa`, payload })

    /** Asserts that `res` carries what `backend`'s login issues, and that it works. */
    const assertCredentialOf = async (backend: Backend, res: LightMyRequestResponse, email: string) => {
      assert.equal(res.statusCode, 200, res.body)
      const body = json<{ email: string; accessToken?: string; refreshToken?: string }>(res)
      assert.equal(body.email, email)
      let headers: Record<string, string>
      if (backend === 'session') {
        assert.deepEqual(
          res.cookies.map((c) => c.name),
          [SESSION_COOKIE],
        )
        assert.equal(body.accessToken, undefined)
        headers = { cookie: `${SESSION_COOKIE}=${cookieOf(res, SESSION_COOKIE)!.value}` }
      } else if (backend === 'jwt') {
        assert.equal(res.cookies.length, 0)
        assert.ok(body.accessToken)
        assert.match(body.refreshToken ?? '', /^[A-Za-z0-9_-]{43}$/, 'the refresh token, as the login gives')
        const refreshed = await t.request({
          method: 'POST',
          url: '/auth/jwt/refresh',
          payload: { refreshToken: body.refreshToken },
        })
        assert.equal(refreshed.statusCode, 200, refreshed.body)
        headers = { authorization: `Bearer ${body.accessToken}` }
      } else {
        assert.equal(body.accessToken, undefined)
        const refresh = cookieOf(res, REFRESH_COOKIE)
        assert.ok(refresh, 'the refresh cookie, as the login sets')
        assert.equal(refresh.path, '/auth/jwt-cookie/refresh')
        assert.equal(refresh.httpOnly, true)
        const refreshed = await t.request({
          method: 'POST',
          url: '/auth/jwt-cookie/refresh',
          headers: { cookie: `${REFRESH_COOKIE}=${refresh.value}` },
        })
        assert.equal(refreshed.statusCode, 200, refreshed.body)
        headers = { cookie: `${TOKEN_COOKIE}=${cookieOf(res, TOKEN_COOKIE)!.value}` }
      }
      const me = await t.request({ method: 'GET', url: '/users/me', headers })
      assert.equal(me.statusCode, 200, me.body)
    }

    for (const backend of Object.keys(LOGIN) as Backend[]) {
      it(`${backend}: the second step issues what the ${backend} login issues`, async () => {
        const { email, secret } = await totpUser()
        const challenge = await challengeOf(backend, email, ['totp', 'recovery'])
        await assertCredentialOf(
          backend,
          await secondStep(backend, { challenge, code: codeAt(secret, t.clock) }),
          email,
        )
      })
    }

    it("refuses a challenge at another backend's second step, without using it up", async () => {
      const { email, secret } = await totpUser()
      for (const [from, to] of [
        ['jwt', 'session'],
        ['session', 'jwt-cookie'],
        ['jwt-cookie', 'jwt'],
      ] as const) {
        const challenge = await challengeOf(from, email, ['totp', 'recovery'])
        assertProblem(
          await secondStep(to, { challenge, code: codeAt(secret, t.clock) }),
          401,
          'ERR_MFA_CHALLENGE',
        )
        assertProblem(await passkeyOptions(to, challenge), 401, 'ERR_MFA_CHALLENGE')
        await assertCredentialOf(
          from,
          await secondStep(from, { challenge, code: codeAt(secret, t.clock) }),
          email,
        )
        t.clock.advance(30)
      }
    })

    for (const backend of Object.keys(LOGIN) as Backend[]) {
      it(`${backend}: a passkey answers the second step`, async () => {
        const { email, device } = await passkeyUser()
        const challenge = await challengeOf(backend, email, ['passkey'])
        const options = await passkeyOptions(backend, challenge)
        assert.equal(options.statusCode, 200, options.body)
        const body = json<{ allowCredentials: { id: string }[]; userVerification: string; rpId: string }>(
          options,
        )
        assert.deepEqual(
          body.allowCredentials.map((c) => c.id),
          [device.credentials[0]!.id.toString('base64url')],
        )
        assert.equal(body.userVerification, 'preferred')
        assert.equal(body.rpId, passkeys.rpId)
        const passkey = device.get(body as never)
        await assertCredentialOf(backend, await secondStep(backend, { challenge, passkey }), email)
        // The challenge worked once.
        assertProblem(await secondStep(backend, { challenge, passkey }), 401, 'ERR_MFA_CHALLENGE')
      })
    }

    it("refuses another user's passkey, even signing this login's options", async () => {
      const victim = await passkeyUser()
      const attacker = await passkeyUser()
      const challenge = await challengeOf('session', victim.email, ['passkey'])
      const options = json<{ challenge: string }>(await passkeyOptions('session', challenge))
      const passkey = attacker.device.get(options)
      assertProblem(await secondStep('session', { challenge, passkey }), 401, 'ERR_INVALID_CREDENTIALS')
      // The attacker's own account does not take the victim's challenge either.
      const theirs = await challengeOf('session', attacker.email, ['passkey'])
      assertProblem(
        await secondStep('session', { challenge: theirs, passkey }),
        401,
        'ERR_INVALID_CREDENTIALS',
      )
    })

    it('refuses a replayed assertion, and one whose challenge was taken already', async () => {
      const { email, device } = await passkeyUser()
      const first = await challengeOf('jwt', email, ['passkey'])
      const passkey = device.get(json(await passkeyOptions('jwt', first)) as never)
      assert.equal((await secondStep('jwt', { challenge: first, passkey })).statusCode, 200)
      // The same assertion for a new login: bound to the first login, and used.
      const second = await challengeOf('jwt', email, ['passkey'])
      assertProblem(await secondStep('jwt', { challenge: second, passkey }), 401, 'ERR_INVALID_CREDENTIALS')
      // A tampered answer takes the options' challenge: the genuine answer to them is refused after it.
      const options = json<{ challenge: string }>(await passkeyOptions('jwt', second))
      const genuine = device.get(options) as { response: Record<string, string> }
      const tampered = {
        ...genuine,
        response: { ...genuine.response, signature: `${genuine.response.signature!.slice(0, -4)}AAAA` },
      }
      assertProblem(
        await secondStep('jwt', { challenge: second, passkey: tampered }),
        401,
        'ERR_INVALID_CREDENTIALS',
      )
      assertProblem(
        await secondStep('jwt', { challenge: second, passkey: genuine }),
        401,
        'ERR_INVALID_CREDENTIALS',
      )
      // Fresh options for the same login challenge work.
      const fresh = device.get(json(await passkeyOptions('jwt', second)) as never)
      assert.equal((await secondStep('jwt', { challenge: second, passkey: fresh })).statusCode, 200)
    })

    it('refuses passkey options made for another login of the same user, without using them up', async () => {
      const { email, device } = await passkeyUser()
      const one = await challengeOf('session', email, ['passkey'])
      const other = await challengeOf('session', email, ['passkey'])
      const passkey = device.get(json(await passkeyOptions('session', one)) as never)
      assertProblem(
        await secondStep('session', { challenge: other, passkey }),
        401,
        'ERR_INVALID_CREDENTIALS',
      )
      assert.equal((await secondStep('session', { challenge: one, passkey })).statusCode, 200)
    })

    it('refuses a counter that goes backwards', async () => {
      const { email, device } = await passkeyUser()
      const challenge = await challengeOf('session', email, ['passkey'])
      const ahead = device.get(json(await passkeyOptions('session', challenge)) as never, { counter: 10 })
      assert.equal((await secondStep('session', { challenge, passkey: ahead })).statusCode, 200)
      const again = await challengeOf('session', email, ['passkey'])
      const behind = device.get(json(await passkeyOptions('session', again)) as never, { counter: 5 })
      assertProblem(
        await secondStep('session', { challenge: again, passkey: behind }),
        401,
        'ERR_INVALID_CREDENTIALS',
      )
    })

    it('refuses an expired passkey challenge, and an expired login challenge', async () => {
      const { email, device } = await passkeyUser()
      const challenge = await challengeOf('session', email, ['passkey'])
      const late = device.get(json(await passkeyOptions('session', challenge)) as never)
      t.clock.advance(passkeys.challengeLifetimeSeconds + 1)
      assertProblem(await secondStep('session', { challenge, passkey: late }), 401, 'ERR_INVALID_CREDENTIALS')
      const fresh = device.get(json(await passkeyOptions('session', challenge)) as never)
      t.clock.advance(300) // past the login challenge's 5 minutes (with the tokens' clock tolerance)
      assertProblem(await secondStep('session', { challenge, passkey: fresh }), 401, 'ERR_MFA_CHALLENGE')
      assertProblem(await passkeyOptions('session', challenge), 401, 'ERR_MFA_CHALLENGE')
    })

    it('throttles wrong passkey answers like wrong codes', async () => {
      const victim = await passkeyUser()
      const attacker = await passkeyUser()
      const challenge = await challengeOf('session', victim.email, ['passkey'])
      for (let i = 0; i < 5; i++) {
        const passkey = attacker.device.get(json(await passkeyOptions('session', challenge)) as never)
        assertProblem(await secondStep('session', { challenge, passkey }), 401, 'ERR_INVALID_CREDENTIALS')
      }
      const passkey = victim.device.get(json(await passkeyOptions('session', challenge)) as never)
      assertProblem(await secondStep('session', { challenge, passkey }), 429, 'ERR_TOO_MANY_ATTEMPTS')
    })

    it('offers both methods to a user with TOTP and a passkey; refuses no answer or two', async () => {
      const { email, device } = await passkeyUser()
      const challenge = await challengeOf('session', email, ['passkey'])
      const passkey = device.get(json(await passkeyOptions('session', challenge)) as never)
      const ok = await secondStep('session', { challenge, passkey })
      const cookie = { cookie: `${SESSION_COOKIE}=${cookieOf(ok, SESSION_COOKIE)!.value}` }
      const enrol = json<{ secret: string }>(
        await t.request({ method: 'POST', url: '/users/me/2fa/totp', headers: cookie }),
      )
      const confirmed = await t.request({
        method: 'POST',
        url: '/users/me/2fa/totp/confirm',
        headers: cookie,
        payload: { code: codeAt(enrol.secret, t.clock) },
      })
      assert.equal(confirmed.statusCode, 200, confirmed.body)
      t.clock.advance(30)
      const both = await challengeOf('session', email, ['totp', 'recovery', 'passkey'])
      assertProblem(await secondStep('session', { challenge: both }), 400, 'ERR_VALIDATION')
      const again = device.get(json(await passkeyOptions('session', both)) as never)
      assertProblem(
        await secondStep('session', { challenge: both, passkey: again, code: codeAt(enrol.secret, t.clock) }),
        400,
        'ERR_VALIDATION',
      )
      assert.equal(
        (await secondStep('session', { challenge: both, code: codeAt(enrol.secret, t.clock) })).statusCode,
        200,
      )
    })

    it('answers 404 for passkey options of a user without a passkey', async () => {
      const { email } = await totpUser()
      const challenge = await challengeOf('session', email, ['totp', 'recovery'])
      assertProblem(await passkeyOptions('session', challenge), 404, 'ERR_NOT_FOUND')
    })
  })
}
