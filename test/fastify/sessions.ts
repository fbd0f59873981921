/**
 * Sessions a user can see and end, over HTTP, on one database: the list with its metadata and the current
 * one, ending one device, ending the others, logging out everywhere (sessions and JWTs), another user's
 * session id answering 404, the admin routes, and the audit events. One file per database
 * (`sessions-*.test.ts`).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import type { TestDialect } from '../helpers/databases.js'
import { assertProblem, buildApp, cookieOf, json, PASSWORD, type TestApp } from './build-app.js'

interface SessionBody {
  id: string
  kind: string
  current: boolean
  createdAt: string
  lastSeenAt: string
  expiresAt: string
  ip: string | null
  userAgent: string | null
  device: { browser: string | null; os: string | null }
}

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'

/** Logs in from a given device; returns the headers that carry its credential. */
async function loginFrom(
  t: TestApp,
  email: string,
  device: { userAgent?: string; ip?: string } = {},
): Promise<Record<string, string>> {
  const res = await t.request({
    method: 'POST',
    url: '/login',
    payload: { email, password: PASSWORD },
    headers: device.userAgent ? { 'user-agent': device.userAgent } : {},
    remoteAddress: device.ip ?? '127.0.0.1',
  })
  assert.equal(res.statusCode, 200, res.body)
  if (t.cookieName) return { cookie: `${t.cookieName}=${cookieOf(res, t.cookieName)?.value}` }
  return { authorization: `Bearer ${json<{ accessToken: string }>(res).accessToken}` }
}

/** The session tests on one database. */
export function sessionsSuite(dialect: TestDialect): void {
  describe(`sessions on ${dialect.name}`, { skip: dialect.skip }, () => {
    const lines: string[] = []
    let t: TestApp
    const get = (url: string, headers: Record<string, string>) => t.request({ method: 'GET', url, headers })
    const list = async (headers: Record<string, string>, url = '/users/me/sessions') => {
      const res = await get(url, headers)
      assert.equal(res.statusCode, 200, res.body)
      return json<{ sessions: SessionBody[] }>(res).sessions
    }
    const me = async (headers: Record<string, string>) => (await get('/users/me', headers)).statusCode
    const events = (event: string) =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event)

    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        fastify: { logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } } },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('lists each device with its metadata, marks the current one, and updates last seen', async () => {
      const { email } = await t.createUser()
      const laptop = await loginFrom(t, email, { userAgent: FIREFOX_LINUX, ip: '203.0.113.7' })
      const started = t.clock.now()
      t.clock.advance(5)
      const phone = await loginFrom(t, email, { userAgent: SAFARI_IPHONE, ip: '198.51.100.9' })
      const fromLaptop = await list(laptop)
      assert.equal(fromLaptop.length, 2)
      const [newest, oldest] = fromLaptop as [SessionBody, SessionBody]
      assert.deepEqual(
        { ...newest, id: '', createdAt: '', lastSeenAt: '', expiresAt: '' },
        {
          id: '',
          kind: 'session',
          current: false,
          createdAt: '',
          lastSeenAt: '',
          expiresAt: '',
          ip: '198.51.100.9',
          userAgent: SAFARI_IPHONE,
          device: { browser: 'Safari', os: 'iOS' },
        },
      )
      assert.equal(oldest.current, true)
      assert.equal(oldest.ip, '203.0.113.7')
      assert.deepEqual(oldest.device, { browser: 'Firefox', os: 'Linux' })
      assert.equal(oldest.createdAt, new Date(started).toISOString())
      assert.match(oldest.id, /^s_[A-Za-z0-9_-]{22}$/)
      assert.notEqual(oldest.id, newest.id)
      // The id is neither the cookie's secret nor the key the row is stored under.
      assert.ok(!laptop.cookie?.includes(oldest.id))
      const rows = await t.db.selectFrom('sessions').select('id').execute()
      assert.ok(rows.every((r) => r.id !== oldest.id && r.id !== newest.id))
      assert.deepEqual(
        (await list(phone)).map((s) => s.current),
        [true, false],
      )
      // Activity moves last seen (at most once a minute) and the order follows it.
      t.clock.advance(120)
      assert.equal(await me(laptop), 200)
      const after = await list(laptop)
      assert.equal(after[0]?.id, oldest.id)
      assert.equal(after[1]?.lastSeenAt, newest.lastSeenAt, 'the idle phone was not touched')
      assert.equal(after[0]?.lastSeenAt, new Date(t.clock.now()).toISOString())
    })

    it('leaves out a session that has been idle past the idle timeout', async () => {
      const { email } = await t.createUser()
      const laptop = await loginFrom(t, email)
      const phone = await loginFrom(t, email)
      t.clock.advance(1800)
      assert.equal(await me(laptop), 200)
      t.clock.advance(1801)
      assert.deepEqual(
        (await list(laptop)).map((s) => s.current),
        [true],
      )
      assert.equal(await me(phone), 401, 'the backend refuses it too')
    })

    it('ending one device logs that device out and not this one', async () => {
      const { email, user } = await t.createUser()
      const laptop = await loginFrom(t, email, { userAgent: FIREFOX_LINUX })
      const phone = await loginFrom(t, email, { userAgent: SAFARI_IPHONE })
      const phoneId = (await list(laptop)).find((s) => !s.current)?.id
      const res = await t.request({ method: 'DELETE', url: `/users/me/sessions/${phoneId}`, headers: laptop })
      assert.equal(res.statusCode, 204, res.body)
      assert.equal(res.headers['set-cookie'], undefined, 'this device keeps its cookie')
      assert.equal(await me(phone), 401)
      assert.equal(await me(laptop), 200)
      assert.equal((await list(laptop)).length, 1)
      // Ended already: 404 the second time.
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/me/sessions/${phoneId}`, headers: laptop }),
        404,
        'ERR_NOT_FOUND',
      )
      assert.ok(events('authn_session_ended').some((e) => e.userId === user.id && e.scope === 'one'))
    })

    it('ending the current session is a logout: the cookie is cleared and refused', async () => {
      const { email } = await t.createUser()
      const laptop = await loginFrom(t, email)
      const id = (await list(laptop))[0]?.id
      const res = await t.request({ method: 'DELETE', url: `/users/me/sessions/${id}`, headers: laptop })
      assert.equal(res.statusCode, 204)
      assert.equal(cookieOf(res, t.cookieName ?? '')?.value, '')
      assert.equal(await me(laptop), 401)
    })

    it("another user's session id answers 404 and changes nothing", async () => {
      const ada = await t.createUser()
      const eve = await t.createUser()
      const adaHeaders = await loginFrom(t, ada.email)
      const eveHeaders = await loginFrom(t, eve.email)
      const adaSession = (await list(adaHeaders))[0]?.id
      const res = await t.request({
        method: 'DELETE',
        url: `/users/me/sessions/${adaSession}`,
        headers: eveHeaders,
      })
      const problem = assertProblem(res, 404, 'ERR_NOT_FOUND')
      const unknown = assertProblem(
        await t.request({
          method: 'DELETE',
          url: `/users/me/sessions/s_${'A'.repeat(22)}`,
          headers: eveHeaders,
        }),
        404,
      )
      assert.equal(problem.detail, unknown.detail, 'the same answer as an id that never existed')
      assert.equal(await me(adaHeaders), 200)
      assert.equal((await list(adaHeaders)).length, 1)
      assert.equal(await me(eveHeaders), 200)
      // A malformed id is refused before anything is looked up.
      assertProblem(
        await t.request({ method: 'DELETE', url: '/users/me/sessions/x%20y', headers: eveHeaders }),
        400,
      )
      assert.equal((await get('/users/me/sessions', {})).statusCode, 401)
    })

    it('ending the other sessions keeps the current one', async () => {
      const { email } = await t.createUser()
      const devices = [await loginFrom(t, email), await loginFrom(t, email), await loginFrom(t, email)]
      const [keep, ...others] = devices as [Record<string, string>, ...Array<Record<string, string>>]
      const res = await t.request({ method: 'POST', url: '/users/me/sessions/end-others', headers: keep })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(json(res), { ended: 2 })
      assert.ok(events('authn_session_ended').some((e) => e.scope === 'others' && e.count === 2))
      for (const other of others) assert.equal(await me(other), 401)
      assert.equal(await me(keep), 200)
      assert.deepEqual(
        (await list(keep)).map((s) => s.current),
        [true],
      )
    })

    it('logging out everywhere ends every session, the current one too', async () => {
      const { email, user } = await t.createUser()
      const devices = [await loginFrom(t, email), await loginFrom(t, email)]
      const res = await t.request({ method: 'POST', url: '/users/me/logout-everywhere', headers: devices[0] })
      assert.equal(res.statusCode, 204, res.body)
      assert.equal(cookieOf(res, t.cookieName ?? '')?.value, '')
      for (const device of devices) assert.equal(await me(device), 401)
      assert.ok(events('authn_token_revoked').some((e) => e.userId === user.id && e.scope === 'all'))
      assert.equal(await me(await loginFrom(t, email)), 200, 'a new login works')
    })

    it("admins list a user's sessions and end one or all; others get 403, unknown users 404", async () => {
      const admin = await t.admin()
      const { email, user } = await t.createUser()
      const other = await t.createUser()
      const [a, b] = [await loginFrom(t, email, { userAgent: FIREFOX_LINUX }), await loginFrom(t, email)]
      const otherHeaders = await loginFrom(t, other.email)
      const listed = await list(admin.headers, `/users/sessions/${user.id}`)
      assert.equal(listed.length, 2)
      assert.ok(listed.every((s) => !s.current))
      const firefox = listed.find((s) => s.device.browser === 'Firefox')?.id
      const otherId = (await list(otherHeaders))[0]?.id
      // Another user's session under this user's path: 404, and it stays.
      assertProblem(
        await t.request({
          method: 'DELETE',
          url: `/users/sessions/${user.id}/${otherId}`,
          headers: admin.headers,
        }),
        404,
      )
      assert.equal(await me(otherHeaders), 200)
      const one = await t.request({
        method: 'DELETE',
        url: `/users/sessions/${user.id}/${firefox}`,
        headers: admin.headers,
      })
      assert.equal(one.statusCode, 204, one.body)
      assert.equal(await me(a), 401)
      assert.equal(await me(b), 200)
      assert.ok(
        events('authn_session_ended').some((e) => e.userId === user.id && e.actorId === admin.user.id),
      )
      // Not an admin: 403, nothing ends.
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/sessions/${other.user.id}`, headers: b }),
        403,
      )
      assert.equal((await get(`/users/sessions/${other.user.id}`, b)).statusCode, 403)
      assert.equal(await me(otherHeaders), 200)
      const all = await t.request({
        method: 'DELETE',
        url: `/users/sessions/${user.id}`,
        headers: admin.headers,
      })
      assert.equal(all.statusCode, 204, all.body)
      assert.equal(await me(b), 401)
      assert.equal(await me(admin.headers), 200, "the admin's own session stays")
      assert.equal(await me(otherHeaders), 200)
      assert.ok(
        events('authn_token_revoked').some((e) => e.userId === user.id && e.actorId === admin.user.id),
      )
      const missing = typeof user.id === 'number' ? 999_999 : '01890a5d-ac96-774b-bcce-b302099a8057'
      assertProblem(await get(`/users/sessions/${missing}`, admin.headers), 404, 'ERR_NOT_FOUND')
    })
  })

  for (const backend of ['jwt', 'jwt-cookie'] as const satisfies readonly AuthBackendName[]) {
    describe(`sessions on ${dialect.name}, ${backend} backend`, { skip: dialect.skip }, () => {
      let t: TestApp
      const REFRESH_COOKIE = '__Secure-fastify-users-token-refresh'
      const me = async (headers: Record<string, string>) =>
        (await t.request({ method: 'GET', url: '/users/me', headers })).statusCode
      const list = async (headers: Record<string, string>, url = '/users/me/sessions') => {
        const res = await t.request({ method: 'GET', url, headers })
        assert.equal(res.statusCode, 200, res.body)
        return json<{ sessions: SessionBody[] }>(res).sessions
      }
      const end = (id: string | undefined, headers: Record<string, string>) =>
        t.request({ method: 'DELETE', url: `/users/me/sessions/${id}`, headers })

      /** One login (one refresh-token family): its access credential and its refresh token. */
      interface Device {
        headers: Record<string, string>
        refreshToken: string
      }
      const deviceOf = (res: LightMyRequestResponse): Device => {
        assert.equal(res.statusCode, 200, res.body)
        if (t.cookieName) {
          return {
            headers: { cookie: `${t.cookieName}=${cookieOf(res, t.cookieName)?.value}` },
            refreshToken: cookieOf(res, REFRESH_COOKIE)?.value ?? '',
          }
        }
        const body = json<{ accessToken: string; refreshToken: string }>(res)
        return { headers: { authorization: `Bearer ${body.accessToken}` }, refreshToken: body.refreshToken }
      }
      const login = async (email: string, userAgent = FIREFOX_LINUX, ip = '203.0.113.7') =>
        deviceOf(
          await t.request({
            method: 'POST',
            url: '/login',
            payload: { email, password: PASSWORD },
            headers: { 'user-agent': userAgent },
            remoteAddress: ip,
          }),
        )
      const refresh = (device: Device) =>
        t.request(
          t.cookieName
            ? {
                method: 'POST',
                url: '/refresh',
                headers: { cookie: `${REFRESH_COOKIE}=${device.refreshToken}` },
              }
            : { method: 'POST', url: '/refresh', payload: { refreshToken: device.refreshToken } },
        )

      before(async () => {
        // The Bearer backend runs with the authentication cache on: ending a family must reach it too.
        const cache = backend === 'jwt' ? { cache: { singleInstance: true } } : {}
        t = await buildApp({ backend, dialect: dialect.name, ...cache })
      })
      after(async () => {
        await t?.destroy()
      })

      it('lists each refresh-token family as one session, the caller’s marked current, through rotations', async () => {
        const { email } = await t.createUser()
        const laptop = await login(email, FIREFOX_LINUX, '203.0.113.7')
        t.clock.advance(5)
        const phone = await login(email, SAFARI_IPHONE, '198.51.100.9')
        const listed = await list(laptop.headers)
        assert.equal(listed.length, 2)
        const [newest, oldest] = listed as [SessionBody, SessionBody]
        assert.equal(newest.kind, 'refresh')
        assert.equal(newest.current, false)
        assert.equal(newest.ip, '198.51.100.9')
        assert.deepEqual(newest.device, { browser: 'Safari', os: 'iOS' })
        assert.equal(oldest.current, true)
        assert.equal(oldest.userAgent, FIREFOX_LINUX)
        assert.match(oldest.id, /^r_[A-Za-z0-9_-]{22}$/)
        // The handle is neither a refresh token nor the family id stored in the table.
        const rows = await t.db.selectFrom('refresh_tokens').select(['family_id', 'token_hash']).execute()
        assert.ok(rows.every((r) => r.family_id !== oldest.id && !oldest.id.includes(r.family_id)))
        assert.ok(!oldest.id.includes(laptop.refreshToken))
        // A rotation keeps the family (one item, still current) and moves its last seen.
        t.clock.advance(60)
        const rotated = deviceOf(await refresh(laptop))
        const after = await list(rotated.headers)
        assert.equal(after.length, 2)
        assert.equal(after[0]?.id, oldest.id)
        assert.equal(after[0]?.current, true)
        assert.equal(after[0]?.lastSeenAt, new Date(t.clock.now()).toISOString())
        assert.equal(after[0]?.createdAt, oldest.createdAt)
        assert.deepEqual(
          (await list(phone.headers)).map((s) => s.current),
          [false, true],
        )
      })

      it('ending another family refuses its refresh token and its access tokens; this one stays', async () => {
        const { email } = await t.createUser()
        const laptop = await login(email)
        const phone = await login(email, SAFARI_IPHONE)
        // An access token of the phone's family issued before its latest rotation.
        const phoneRotated = deviceOf(await refresh(phone))
        // Seen once, so with the authentication cache on it is cached when its family ends.
        assert.equal(await me(phoneRotated.headers), 200)
        const phoneId = (await list(laptop.headers)).find((s) => !s.current)?.id
        const res = await end(phoneId, laptop.headers)
        assert.equal(res.statusCode, 204, res.body)
        assert.equal(res.headers['set-cookie'], undefined, 'this device keeps its cookie')
        assertProblem(await refresh(phoneRotated), 401, 'ERR_UNAUTHENTICATED')
        assert.equal(await me(phoneRotated.headers), 401)
        assert.equal(await me(phone.headers), 401)
        assert.equal(await me(laptop.headers), 200)
        assert.equal((await refresh(laptop)).statusCode, 200, 'its refresh token still works')
        assert.equal((await list(laptop.headers)).length, 1)
        assertProblem(await end(phoneId, laptop.headers), 404, 'ERR_NOT_FOUND')
      })

      it("logging out ends the family's earlier access tokens at once, cached ones included", async () => {
        const { email } = await t.createUser()
        const first = await login(email)
        // Seen once, so with the authentication cache on it is cached when its family ends.
        assert.equal(await me(first.headers), 200)
        const rotated = deviceOf(await refresh(first))
        const res = await t.request({ method: 'POST', url: '/logout', headers: rotated.headers })
        assert.ok([200, 204].includes(res.statusCode), res.body)
        assert.equal(await me(first.headers), 401, 'the earlier token of the same login')
        assert.equal(await me(rotated.headers), 401)
      })

      it('ending the current family is a logout: its tokens are refused', async () => {
        const { email } = await t.createUser()
        const laptop = await login(email)
        const id = (await list(laptop.headers))[0]?.id
        const res = await end(id, laptop.headers)
        assert.equal(res.statusCode, 204, res.body)
        if (t.cookieName) assert.equal(cookieOf(res, t.cookieName)?.value, '')
        assert.equal(await me(laptop.headers), 401)
        assertProblem(await refresh(laptop), 401, 'ERR_UNAUTHENTICATED')
      })

      it('ending the other sessions ends the other families and keeps the caller’s', async () => {
        const { email } = await t.createUser()
        const [a, b, c] = [await login(email), await login(email), await login(email)]
        const res = await t.request({
          method: 'POST',
          url: '/users/me/sessions/end-others',
          headers: a.headers,
        })
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(json(res), { ended: 2 })
        for (const other of [b, c]) {
          assert.equal(await me(other.headers), 401)
          assertProblem(await refresh(other), 401, 'ERR_UNAUTHENTICATED')
        }
        assert.equal(await me(a.headers), 200)
        const listed = await list(a.headers)
        assert.deepEqual(
          listed.map((s) => s.current),
          [true],
        )
        const next = deviceOf(await refresh(a))
        assert.equal(await me(next.headers), 200)
      })

      it("another user's family id answers 404 and changes nothing", async () => {
        const mine = await login((await t.createUser()).email)
        const theirs = await login((await t.createUser()).email)
        const theirId = (await list(theirs.headers))[0]?.id
        assertProblem(await end(theirId, mine.headers), 404, 'ERR_NOT_FOUND')
        assert.equal(await me(theirs.headers), 200)
        assert.equal((await list(theirs.headers)).length, 1)
        assert.equal((await refresh(theirs)).statusCode, 200)
      })

      it("admins list a user's families and end one", async () => {
        const admin = await t.admin()
        const { email, user } = await t.createUser()
        const [a, b] = [await login(email), await login(email, SAFARI_IPHONE)]
        const other = await login((await t.createUser()).email)
        const listed = await list(admin.headers, `/users/sessions/${user.id}`)
        assert.equal(listed.length, 2)
        assert.ok(listed.every((s) => s.kind === 'refresh' && !s.current))
        const otherId = (await list(other.headers))[0]?.id
        assertProblem(
          await t.request({
            method: 'DELETE',
            url: `/users/sessions/${user.id}/${otherId}`,
            headers: admin.headers,
          }),
          404,
        )
        assert.equal(await me(other.headers), 200)
        const firefox = listed.find((s) => s.device.browser === 'Firefox')?.id
        const res = await t.request({
          method: 'DELETE',
          url: `/users/sessions/${user.id}/${firefox}`,
          headers: admin.headers,
        })
        assert.equal(res.statusCode, 204, res.body)
        assert.equal(await me(a.headers), 401)
        assertProblem(await refresh(a), 401, 'ERR_UNAUTHENTICATED')
        assert.equal(await me(b.headers), 200)
        assert.equal((await list(admin.headers, `/users/sessions/${user.id}`)).length, 1)
      })

      it('logging out everywhere ends every token, and the list is empty afterwards', async () => {
        const { email } = await t.createUser()
        const devices = [await login(email), await login(email)]
        assert.equal((await list(devices[0]!.headers)).length, 2)
        const res = await t.request({
          method: 'POST',
          url: '/users/me/logout-everywhere',
          headers: devices[1]!.headers,
        })
        assert.equal(res.statusCode, 204, res.body)
        for (const device of devices) {
          assert.equal(await me(device.headers), 401)
          assertProblem(await refresh(device), 401, 'ERR_UNAUTHENTICATED')
        }
        const again = await login(email)
        assert.deepEqual(
          (await list(again.headers)).map((s) => s.current),
          [true],
          'the families of the old credential version are not listed',
        )
      })

      it('logging out ends the other access tokens of its family too', async () => {
        const { email } = await t.createUser()
        const first = await login(email)
        const rotated = deviceOf(await refresh(first))
        const res = await t.request({ method: 'POST', url: '/logout', headers: rotated.headers })
        assert.equal(res.statusCode, 204, res.body)
        assert.equal(await me(rotated.headers), 401)
        assert.equal(await me(first.headers), 401, 'the older access token of the same login')
      })

      it("an admin ending all of a user's sessions ends their tokens too", async () => {
        const admin = await t.admin()
        const { email, user } = await t.createUser()
        const device = await login(email)
        const res = await t.request({
          method: 'DELETE',
          url: `/users/sessions/${user.id}`,
          headers: admin.headers,
        })
        assert.equal(res.statusCode, 204, res.body)
        assert.equal(await me(device.headers), 401)
        assertProblem(await refresh(device), 401, 'ERR_UNAUTHENTICATED')
        assert.equal(await me(admin.headers), 200)
      })
    })
  }

  describe(`sessions on ${dialect.name}, session and jwt backends together`, { skip: dialect.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        authBackend: undefined,
        auth: { backends: ['session', 'jwt'] },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('lists sessions and families together, and ends either kind by its id', async () => {
      const { email } = await t.createUser()
      const browser = await loginFrom(t, email)
      const api = await t.request({
        method: 'POST',
        url: '/auth/jwt/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(api.statusCode, 200, api.body)
      const bearer = { authorization: `Bearer ${json<{ accessToken: string }>(api).accessToken}` }
      const res = await t.request({ method: 'GET', url: '/users/me/sessions', headers: bearer })
      assert.equal(res.statusCode, 200, res.body)
      const listed = json<{ sessions: SessionBody[] }>(res).sessions
      assert.deepEqual(listed.map((s) => [s.kind, s.current]).sort(), [
        ['refresh', true],
        ['session', false],
      ])
      const session = listed.find((s) => s.kind === 'session')?.id
      const ended = await t.request({
        method: 'DELETE',
        url: `/users/me/sessions/${session}`,
        headers: bearer,
      })
      assert.equal(ended.statusCode, 204, ended.body)
      assert.equal((await t.request({ method: 'GET', url: '/users/me', headers: browser })).statusCode, 401)
      assert.equal((await t.request({ method: 'GET', url: '/users/me', headers: bearer })).statusCode, 200)
    })
  })
}
