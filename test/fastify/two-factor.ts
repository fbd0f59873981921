/**
 * Two-factor authentication over HTTP, on each backend and database (run per database by
 * `two-factor-*.test.ts`): the two-step login with codes computed at test time (a code taken once, no
 * replay), recovery codes, step-up refusals and success after reauthentication, the throttle's 429, and
 * bad input.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import type { TestDialect } from '../helpers/databases.js'
import {
  assertProblem,
  backends,
  buildApp,
  json,
  type ManualClock,
  PASSWORD,
  type TestApp,
} from './build-app.js'

function codeAt(secret: string, clock: ManualClock): string {
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(clock.now() / 30_000)), 6)
}

/** Registers the suite for one database; every backend runs in it. */
export function twoFactorSuite(dialect: TestDialect): void {
  for (const backend of backends) {
    describe(`two-factor over HTTP (${backend}, ${dialect.name})`, { skip: dialect.skip }, () => {
      let t: TestApp
      before(async () => {
        t = await buildApp({ backend, dialect: dialect.name, routes: { twoFactor: { issuer: 'Acme' } } })
      })
      after(async () => {
        await t?.destroy()
      })

      /** Logs in, enrols and confirms TOTP; returns the credential headers, the secret and the codes. */
      const enrolled = async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const enrol = await t.request({ method: 'POST', url: '/users/me/2fa/totp', headers })
        assert.equal(enrol.statusCode, 200, enrol.body)
        const { secret, uri, qrCode } = json<{ secret: string; uri: string; qrCode: string }>(enrol)
        assert.ok(uri.startsWith('otpauth://totp/Acme:'))
        assert.ok(qrCode.startsWith('data:image/svg+xml;base64,'))
        const wrong = await t.request({
          method: 'POST',
          url: '/users/me/2fa/totp/confirm',
          headers,
          payload: { code: '000000' },
        })
        assertProblem(wrong, 403, 'ERR_INVALID_OTP')
        const confirm = await t.request({
          method: 'POST',
          url: '/users/me/2fa/totp/confirm',
          headers,
          payload: { code: codeAt(secret, t.clock) },
        })
        assert.equal(confirm.statusCode, 200, confirm.body)
        const { recoveryCodes } = json<{ recoveryCodes: string[] }>(confirm)
        assert.equal(recoveryCodes.length, 10)
        t.clock.advance(30)
        return { email, headers, secret, recoveryCodes }
      }

      const passwordStep = async (email: string) => {
        const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
        assert.equal(res.statusCode, 202, res.body)
        const body = json<{ mfaRequired?: boolean; challenge?: string; accessToken?: string }>(res)
        assert.equal(body.mfaRequired, true)
        assert.equal(body.accessToken, undefined, 'no credential before the second step')
        assert.equal(res.cookies.length, 0, 'no cookie before the second step')
        return body.challenge as string
      }

      it('logs in in two steps once TOTP is on; the challenge works once', async () => {
        const { email, secret } = await enrolled()
        const challenge = await passwordStep(email)
        const code = codeAt(secret, t.clock)
        const ok = await t.request({ method: 'POST', url: '/login/2fa', payload: { challenge, code } })
        assert.equal(ok.statusCode, 200, ok.body)
        assert.equal(json<{ email: string }>(ok).email, email)
        if (backend === 'jwt') assert.ok(json<{ refreshToken: string }>(ok).refreshToken)
        // The JWT cookie backend also sets its refresh cookie, as its password login does.
        else assert.equal(ok.cookies.length, backend === 'jwt-cookie' ? 2 : 1)
        const again = await t.request({ method: 'POST', url: '/login/2fa', payload: { challenge, code } })
        assertProblem(again, 401, 'ERR_MFA_CHALLENGE')
        const replay = await t.request({
          method: 'POST',
          url: '/login/2fa',
          payload: { challenge: await passwordStep(email), code },
        })
        assertProblem(replay, 401, 'ERR_INVALID_CREDENTIALS')
      })

      it('accepts a recovery code once', async () => {
        const { email, recoveryCodes } = await enrolled()
        const payload = { challenge: await passwordStep(email), recoveryCode: recoveryCodes[0] }
        assert.equal((await t.request({ method: 'POST', url: '/login/2fa', payload })).statusCode, 200)
        const reused = await t.request({
          method: 'POST',
          url: '/login/2fa',
          payload: { challenge: await passwordStep(email), recoveryCode: recoveryCodes[0] },
        })
        assertProblem(reused, 401, 'ERR_INVALID_CREDENTIALS')
      })

      it('answers 429 past the free attempts', async () => {
        const { email } = await enrolled()
        const challenge = await passwordStep(email)
        for (let i = 0; i < 5; i++) {
          const res = await t.request({
            method: 'POST',
            url: '/login/2fa',
            payload: { challenge, code: '000000' },
          })
          assertProblem(res, 401, 'ERR_INVALID_CREDENTIALS')
        }
        const res = await t.request({
          method: 'POST',
          url: '/login/2fa',
          payload: { challenge, code: '000000' },
        })
        assertProblem(res, 429, 'ERR_TOO_MANY_ATTEMPTS')
        assert.ok(res.headers['retry-after'])
      })

      it('needs a recent proof to turn TOTP off or regenerate codes; reauthenticate gives one', async () => {
        const { headers, secret } = await enrolled()
        t.clock.advance(11 * 60)
        const refused = await t.request({ method: 'DELETE', url: '/users/me/2fa/totp', headers })
        assertProblem(refused, 403, 'ERR_STEP_UP_REQUIRED')
        const codes = await t.request({ method: 'POST', url: '/users/me/2fa/recovery-codes', headers })
        assertProblem(codes, 403, 'ERR_STEP_UP_REQUIRED')
        const wrong = await t.request({
          method: 'POST',
          url: '/users/me/reauthenticate',
          headers,
          payload: { password: 'not the password' },
        })
        assertProblem(wrong, 403, 'ERR_WRONG_PASSWORD')
        const reauth = await t.request({
          method: 'POST',
          url: '/users/me/reauthenticate',
          headers,
          payload: { code: codeAt(secret, t.clock) },
        })
        assert.equal(reauth.statusCode, 204, reauth.body)
        const fresh = await t.request({ method: 'POST', url: '/users/me/2fa/recovery-codes', headers })
        assert.equal(fresh.statusCode, 200, fresh.body)
        const off = await t.request({ method: 'DELETE', url: '/users/me/2fa/totp', headers })
        assert.equal(off.statusCode, 204, off.body)
        const status = await t.request({ method: 'GET', url: '/users/me/2fa', headers })
        assert.deepEqual(json(status), { totp: false, recoveryCodesLeft: 0 })
      })

      it('refuses bad input with a 400 problem and changes nothing', async () => {
        const { email, headers } = await enrolled()
        const challenge = await passwordStep(email)
        assertProblem(
          await t.request({ method: 'POST', url: '/login/2fa', payload: { challenge } }),
          400,
          'ERR_VALIDATION',
        )
        assertProblem(
          await t.request({ method: 'POST', url: '/login/2fa', payload: { challenge, code: '12ab56' } }),
          400,
          'ERR_VALIDATION',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/me/reauthenticate',
            headers,
            payload: { password: PASSWORD, code: '123456' },
          }),
          400,
          'ERR_VALIDATION',
        )
        assertProblem(
          await t.request({ method: 'POST', url: '/users/me/2fa/totp', headers }),
          409,
          'ERR_CONFLICT',
        )
        const status = await t.request({ method: 'GET', url: '/users/me/2fa', headers })
        assert.deepEqual(json(status), { totp: true, recoveryCodesLeft: 10 })
      })
    })
  }
}
