/**
 * Refresh tokens of the JWT backends over HTTP, on one database: the pair a login issues, rotation,
 * refusal of a rotated token, reuse detection (the whole family ends, a security event is logged and a
 * notice is mailed over real SMTP), one winner of two concurrent refreshes, idle and absolute expiry, the
 * credential version (password change, revocation, deletion), logout, the cookie transport's refresh
 * cookie and its origin check, and bad input.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { JwtBackend } from '../../src/auth/jwt-backend.js'
import { hashRefreshToken } from '../../src/core/refresh-tokens.js'
import { authenticatorOf } from '../../src/fastify/request-auth.js'
import { SmtpMailer } from '../../src/mail/smtp-mailer.js'
import type { TestDialect } from '../helpers/databases.js'
import { type SmtpSink, startSmtpSink } from '../mail/smtp-sink.js'
import { assertProblem, buildApp, cookieOf, json, PASSWORD, type TestApp } from './build-app.js'

const DAY = 86_400
const REFRESH_COOKIE = '__Secure-fastify-users-token-refresh'

/** Registers the refresh suites of both JWT backends on one dialect. */
export function refreshSuite(dialect: TestDialect): void {
  describe(`refresh tokens, Bearer (jwt), ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    let sink: SmtpSink
    const lines: string[] = []

    before(async () => {
      sink = await startSmtpSink()
      t = await buildApp({
        backend: 'jwt',
        dialect: dialect.name,
        mailer: SmtpMailer.fromUrl(sink.url, 'Accounts <no-reply@example.com>'),
        fastify: { logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } } },
      })
    })
    after(async () => {
      await t?.destroy()
      await sink?.close()
    })

    const login = async (email: string) => {
      const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
      assert.equal(res.statusCode, 200, res.body)
      return json<{ accessToken: string; refreshToken: string; refreshExpiresIn: number; id: unknown }>(res)
    }
    const refresh = (refreshToken: unknown): Promise<LightMyRequestResponse> =>
      t.request({ method: 'POST', url: '/refresh', payload: { refreshToken } })
    const me = (accessToken: string) =>
      t.request({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } })

    it('login answers a refresh token; a refresh answers a new pair, and the used token is refused', async () => {
      const { email, user } = await t.createUser()
      const first = await login(email)
      assert.match(first.refreshToken, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url')
      assert.equal(first.refreshExpiresIn, 14 * DAY)
      const res = await refresh(first.refreshToken)
      assert.equal(res.statusCode, 200, res.body)
      const next = json<{ accessToken: string; refreshToken: string; id: unknown; passwordHash?: string }>(
        res,
      )
      assert.equal(next.id, user.id)
      assert.equal(next.passwordHash, undefined)
      assert.notEqual(next.refreshToken, first.refreshToken)
      assert.notEqual(next.accessToken, first.accessToken)
      assert.equal((await me(next.accessToken)).statusCode, 200)
      assertProblem(await refresh(first.refreshToken), 401, 'ERR_UNAUTHENTICATED')
    })

    it('stores only the SHA-256 of a refresh token', async () => {
      const { email } = await t.createUser()
      const { refreshToken } = await login(email)
      const rows = await t.db.selectFrom('refresh_tokens').select(['token_hash']).execute()
      assert.ok(rows.every((row) => row.token_hash !== refreshToken))
      assert.ok(rows.some((row) => row.token_hash.length === 64))
    })

    it('a rotated token presented again ends the whole family, logs the event and mails the user', async () => {
      const { email, user } = await t.createUser()
      const r1 = (await login(email)).refreshToken
      const r2 = json<{ refreshToken: string }>(await refresh(r1)).refreshToken
      const r3 = json<{ refreshToken: string }>(await refresh(r2)).refreshToken
      const before = lines.length
      assertProblem(await refresh(r1), 401, 'ERR_UNAUTHENTICATED')
      // The newest token of the family, never used, is refused too: the thief's copy and the owner's die.
      assertProblem(await refresh(r3), 401, 'ERR_UNAUTHENTICATED')
      const events = lines
        .slice(before)
        .map((line) => JSON.parse(line) as { event?: string; level: number; userId?: unknown })
        .filter((entry) => entry.event === 'refresh_token_reuse')
      assert.equal(events.length, 1)
      assert.equal(events[0]?.level, 40, 'a warning')
      assert.equal(events[0]?.userId, String(user.id))
      assert.ok(
        !lines.slice(before).some((line) => line.includes(r1) || line.includes(r3)),
        'no token logged',
      )
      const mail = await sink.nextMail({ to: email, subject: /sign-in .* was ended/ })
      assert.match(mail.text, /already been used/)
    })

    it('of two concurrent refreshes with one token, exactly one wins; the family then ends', async () => {
      const { email } = await t.createUser()
      const { refreshToken } = await login(email)
      const answers = await Promise.all([refresh(refreshToken), refresh(refreshToken)])
      const won = answers.filter((res) => res.statusCode === 200)
      assert.equal(won.length, 1, answers.map((res) => res.statusCode).join(','))
      assert.equal(answers.filter((res) => res.statusCode === 401).length, 1)
      // No grace window: the loser looks like a thief, so the winner's pair ends with the family.
      assertProblem(await refresh(json<{ refreshToken: string }>(won[0]!).refreshToken), 401)
    })

    it('a token unused for its idle lifetime is refused', async () => {
      const { email } = await t.createUser()
      const { refreshToken } = await login(email)
      t.clock.advance(14 * DAY + 1)
      assertProblem(await refresh(refreshToken), 401, 'ERR_UNAUTHENTICATED')
    })

    it('a family ends after its absolute lifetime however often it is rotated', async () => {
      const { email } = await t.createUser()
      let token = (await login(email)).refreshToken
      for (let i = 0; i < 2; i++) {
        t.clock.advance(13 * DAY)
        const res = await refresh(token)
        assert.equal(res.statusCode, 200, res.body)
        token = json<{ refreshToken: string; refreshExpiresIn: number }>(res).refreshToken
      }
      // Day 26: the next token may only live until day 30, not 14 more days.
      t.clock.advance(4 * DAY + 1)
      assertProblem(await refresh(token), 401, 'ERR_UNAUTHENTICATED')
      // The sweep deletes the ended families.
      const purged = await t.app.users.purgeExpired()
      assert.ok(purged.refreshTokens >= 3, `swept ${purged.refreshTokens}`)
    })

    it("lists a user's live families, marks the current one, and ends one family of its owner only", async () => {
      const { email, user } = await t.createUser()
      const other = await t.createUser()
      const first = (await login(email)).refreshToken
      const second = (await login(email)).refreshToken
      const backend = authenticatorOf(t.app).backends[0]
      assert.ok(backend instanceof JwtBackend && backend.refreshTokens)
      const store = t.app.users.refreshTokenStore!
      const familyOf = async (token: string) => (await store.find(hashRefreshToken(token)))!.familyId
      const current = await familyOf(second)
      const families = await backend.refreshTokens.listFamilies(String(user.id), current)
      assert.equal(families.length, 2)
      assert.deepEqual(families.map((f) => [f.kind, f.current]).sort(), [
        ['refresh', false],
        ['refresh', true],
      ])
      const firstFamily = await familyOf(first)
      assert.equal(await backend.refreshTokens.endFamily(String(other.user.id), firstFamily), false)
      assert.equal(await backend.refreshTokens.endFamily(String(user.id), firstFamily), true)
      assertProblem(await refresh(first), 401, 'ERR_UNAUTHENTICATED')
      assert.equal((await refresh(second)).statusCode, 200)
    })

    it('a password change, "log out everywhere" and deletion end every family', async () => {
      const a = await t.createUser()
      const ra = (await login(a.email)).refreshToken
      await t.app.users.changePassword(a.user.id, PASSWORD, 'another correct horse battery')
      assertProblem(await refresh(ra), 401, 'ERR_UNAUTHENTICATED')

      const b = await t.createUser()
      const rb = (await login(b.email)).refreshToken
      await t.app.users.revokeCredentials(b.user.id)
      assertProblem(await refresh(rb), 401, 'ERR_UNAUTHENTICATED')

      const c = await t.createUser()
      const rc = (await login(c.email)).refreshToken
      await t.app.users.updateUser(c.user.id, { isActive: false })
      assertProblem(await refresh(rc), 401, 'ERR_UNAUTHENTICATED')

      const d = await t.createUser()
      const rd = (await login(d.email)).refreshToken
      await t.app.users.deleteUser(d.user.id)
      assertProblem(await refresh(rd), 401, 'ERR_UNAUTHENTICATED')
    })

    it('logout ends the family of its access token', async () => {
      const { email } = await t.createUser()
      const { accessToken, refreshToken } = await login(email)
      const out = await t.request({
        method: 'POST',
        url: '/logout',
        headers: { authorization: `Bearer ${accessToken}` },
      })
      assert.equal(out.statusCode, 204)
      assertProblem(await refresh(refreshToken), 401, 'ERR_UNAUTHENTICATED')
    })

    it('bad input answers a 4xx problem and changes nothing', async () => {
      const { email } = await t.createUser()
      const { refreshToken } = await login(email)
      assertProblem(await refresh(12), 400, 'ERR_VALIDATION')
      assertProblem(
        await t.request({ method: 'POST', url: '/refresh', payload: { refreshToken, extra: 1 } }),
        400,
        'ERR_VALIDATION',
      )
      assertProblem(await t.request({ method: 'POST', url: '/refresh', payload: {} }), 401)
      assertProblem(await refresh('x'.repeat(43)), 401, 'ERR_UNAUTHENTICATED')
      assertProblem(await refresh(`${refreshToken}=`), 401, 'ERR_UNAUTHENTICATED')
      assert.equal((await refresh(refreshToken)).statusCode, 200, 'the real token still works')
    })
  })

  describe(`refresh tokens, cookie (jwt-cookie), ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp

    before(async () => {
      t = await buildApp({ backend: 'jwt-cookie', dialect: dialect.name })
    })
    after(async () => {
      await t?.destroy()
    })

    const login = async (email: string) => {
      const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
      assert.equal(res.statusCode, 200, res.body)
      return res
    }
    const refresh = (value: string, headers: Record<string, string> = {}) =>
      t.request({
        method: 'POST',
        url: '/refresh',
        headers: { cookie: `${REFRESH_COOKIE}=${value}`, ...headers },
      })

    it('keeps the refresh token in its own HttpOnly, Secure, SameSite=Strict cookie scoped to /refresh', async () => {
      const { email } = await t.createUser()
      const res = await login(email)
      const body = json(res)
      assert.equal(body.refreshToken, undefined, 'not in the body')
      const cookie = cookieOf(res, REFRESH_COOKIE)
      assert.ok(cookie, `sets ${REFRESH_COOKIE}`)
      assert.equal(cookie.httpOnly, true)
      assert.equal(cookie.secure, true)
      assert.equal(cookie.sameSite, 'Strict')
      assert.equal(cookie.path, '/refresh')
      assert.equal(cookie.maxAge, 14 * DAY)
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/)
    })

    it('a refresh reads the cookie and sets a new access cookie and a new refresh cookie', async () => {
      const { email, user } = await t.createUser()
      const first = cookieOf(await login(email), REFRESH_COOKIE)!.value
      const res = await refresh(first)
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(json(res).id, user.id)
      const access = cookieOf(res, t.cookieName!)
      assert.ok(access)
      const next = cookieOf(res, REFRESH_COOKIE)
      assert.ok(next && next.value !== first)
      assert.equal(next.path, '/refresh')
      const me = await t.request({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: `${t.cookieName}=${access.value}` },
      })
      assert.equal(me.statusCode, 200)
      const refused = await refresh(first)
      assertProblem(refused, 401, 'ERR_UNAUTHENTICATED')
      assert.equal(cookieOf(refused, REFRESH_COOKIE)?.value, '', 'a refused refresh clears the cookie')
    })

    it('a refresh token in the body is not read on the cookie transport', async () => {
      const { email } = await t.createUser()
      const token = cookieOf(await login(email), REFRESH_COOKIE)!.value
      const res = await t.request({ method: 'POST', url: '/refresh', payload: { refreshToken: token } })
      assertProblem(res, 401, 'ERR_UNAUTHENTICATED')
      assert.equal((await refresh(token)).statusCode, 200)
    })

    it('refuses a cross-site refresh and leaves the token usable', async () => {
      const { email } = await t.createUser()
      const token = cookieOf(await login(email), REFRESH_COOKIE)!.value
      const res = await refresh(token, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
      assertProblem(res, 403, 'ERR_CROSS_ORIGIN')
      assert.equal((await refresh(token)).statusCode, 200)
    })

    it('logout ends the family and clears the refresh cookie', async () => {
      const { email } = await t.createUser()
      const res = await login(email)
      const token = cookieOf(res, REFRESH_COOKIE)!.value
      const access = cookieOf(res, t.cookieName!)!.value
      const out = await t.request({
        method: 'POST',
        url: '/logout',
        headers: { cookie: `${t.cookieName}=${access}` },
      })
      assert.equal(out.statusCode, 204)
      const cleared = cookieOf(out, REFRESH_COOKIE)
      assert.equal(cleared?.value, '')
      assert.equal(cleared?.path, '/refresh')
      assertProblem(await refresh(token), 401, 'ERR_UNAUTHENTICATED')
    })
  })
}
