/**
 * The CSRF defence of the cookie backends (Sec-Fetch-Site, then Origin against the trusted origins; no
 * header at all passes), on every state-changing route, login included; and its absence on the Bearer
 * backend, which browsers never send on their own.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { HTTPMethods } from 'fastify'
import { assertProblem, backends, buildApp, json, PASSWORD, type TestApp, uniqueEmail } from './build-app.js'

const TRUSTED = 'https://admin.example.com'
const EVIL = 'https://evil.example'
const CROSS_SITE = { 'sec-fetch-site': 'cross-site', origin: EVIL }
const MISSING_ID = '01900000-0000-7000-8000-000000000000'

for (const backend of backends) {
  const cookieBackend = backend !== 'jwt'
  describe(`CSRF defence, ${backend} backend`, () => {
    let t: TestApp
    let admin: Record<string, string>
    let user: { id: string | number; email: string; headers: Record<string, string> }
    const me = () => t.request({ method: 'GET', url: '/users/me', headers: user.headers })
    const patchMe = (headers: Record<string, string>, displayName: string) =>
      t.request({
        method: 'PATCH',
        url: '/users/me',
        headers: { ...user.headers, ...headers },
        payload: { displayName },
      })

    before(async () => {
      t = await buildApp({ backend, trustedOrigins: [TRUSTED] })
      admin = (await t.admin()).headers
      const created = await t.createUser({ displayName: 'Original' })
      user = { id: created.user.id, email: created.email, headers: await t.login(created.email) }
    })
    after(async () => {
      await t?.destroy()
    })

    if (cookieBackend) {
      it('refuses a cross-site PATCH /users/me with 403 ERR_CROSS_ORIGIN, and nothing changes', async () => {
        const refused: Array<Record<string, string>> = [
          CROSS_SITE,
          { 'sec-fetch-site': 'same-site', origin: 'https://other.example.com' },
          { 'sec-fetch-site': 'cross-site' },
          { origin: EVIL },
          { origin: 'null' },
          { 'sec-fetch-site': 'cross-site', origin: `${TRUSTED}.evil.example` },
        ]
        for (const headers of refused) {
          assertProblem(await patchMe(headers, 'Forged'), 403, 'ERR_CROSS_ORIGIN')
        }
        const res = await me()
        assert.equal(json(res).displayName, 'Original')
        const row = await t.db
          .selectFrom('users')
          .select('display_name')
          .where('id', '=', user.id)
          .executeTakeFirst()
        assert.equal(row?.display_name, 'Original')
      })

      it('refuses a cross-site login and sets no cookie', async () => {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          headers: CROSS_SITE,
          payload: { email: user.email, password: PASSWORD },
        })
        assertProblem(res, 403, 'ERR_CROSS_ORIGIN')
        assert.equal(res.headers['set-cookie'], undefined)
      })

      it('refuses cross-site requests on every state-changing route, and nothing changes', async () => {
        const victim = await t.createUser()
        const victimHeaders = await t.login(victim.email)
        const role = await t.app.users.addRole({ name: `csrf-${backend}` })
        const newEmail = uniqueEmail('csrf')
        const routes: Array<{
          method: HTTPMethods
          url: string
          payload?: Record<string, unknown>
          as?: 'admin' | 'victim'
        }> = [
          { method: 'POST', url: '/register', payload: { email: newEmail, password: PASSWORD } },
          { method: 'POST', url: '/verify', payload: { token: 'a.b.c' } },
          { method: 'POST', url: '/verify/request', payload: { email: victim.email } },
          { method: 'POST', url: '/forgot-password', payload: { email: victim.email } },
          { method: 'POST', url: '/reset-password', payload: { token: 'a.b.c', password: PASSWORD } },
          { method: 'POST', url: '/logout', as: 'victim' },
          { method: 'PATCH', url: '/users/me', payload: { email: newEmail }, as: 'victim' },
          {
            method: 'POST',
            url: '/users/me/password',
            payload: { currentPassword: PASSWORD, newPassword: 'hijacked password' },
            as: 'victim',
          },
          { method: 'POST', url: '/users/roles', payload: { name: 'forged' }, as: 'admin' },
          { method: 'PATCH', url: `/users/roles/${role.id}`, payload: { name: 'forged' }, as: 'admin' },
          { method: 'DELETE', url: `/users/roles/${role.id}`, as: 'admin' },
          {
            method: 'PUT',
            url: '/users/roles/assign',
            payload: { userId: victim.user.id, roleId: role.id },
            as: 'admin',
          },
          {
            method: 'PUT',
            url: '/users/roles/revoke',
            payload: { userId: victim.user.id, roleId: role.id },
            as: 'admin',
          },
          { method: 'PATCH', url: `/users/${victim.user.id}`, payload: { isActive: false }, as: 'admin' },
          { method: 'DELETE', url: `/users/${victim.user.id}`, as: 'admin' },
          { method: 'DELETE', url: `/users/${MISSING_ID}`, as: 'admin' },
        ]
        for (const { as, ...route } of routes) {
          const credential = as === 'admin' ? admin : as === 'victim' ? victimHeaders : {}
          const res = await t.request({ ...route, headers: { ...credential, ...CROSS_SITE } })
          assertProblem(res, 403, 'ERR_CROSS_ORIGIN')
          assert.equal(res.headers['set-cookie'], undefined, `${route.method} ${route.url} sets no cookie`)
        }
        await t.app.users.settled()
        assert.equal((await t.mailsTo(victim.email)).length, 0, 'no mail went out')
        assert.equal((await t.mailsTo(newEmail)).length, 0)
        assert.equal(await t.app.users.getUserBy({ email: newEmail }), null)
        const after = await t.app.users.getUser(victim.user.id)
        assert.equal(after.email, victim.email)
        assert.equal(after.isActive, true)
        assert.deepEqual(after.roles, [])
        assert.equal((await t.app.users.getRole(role.id)).name, `csrf-${backend}`)
        assert.equal(await t.app.users.getRoleByName('forged'), null)
        assert.equal(
          (await t.request({ method: 'GET', url: '/users/me', headers: victimHeaders })).statusCode,
          200,
        )
        await t.login(victim.email)
      })

      it('lets same-origin, user-initiated, trusted-origin and header-less requests through', async () => {
        const cases: Array<[string, Record<string, string>]> = [
          ['same-origin', { 'sec-fetch-site': 'same-origin', origin: 'https://app.example.com' }],
          ['none', { 'sec-fetch-site': 'none' }],
          ['trusted origin', { 'sec-fetch-site': 'cross-site', origin: TRUSTED }],
          ['trusted origin without Sec-Fetch-Site', { origin: TRUSTED }],
          ['Origin of this host', { origin: 'https://app.example.com:8443', host: 'app.example.com:8443' }],
          ['no header', {}],
        ]
        for (const [label, headers] of cases) {
          const res = await patchMe(headers, label)
          assert.equal(res.statusCode, 200, `${label}: ${res.body}`)
          assert.equal(json(res).displayName, label)
        }
        const login = await t.request({
          method: 'POST',
          url: '/login',
          headers: { 'sec-fetch-site': 'same-origin' },
          payload: { email: user.email, password: PASSWORD },
        })
        assert.equal(login.statusCode, 200)
        assert.ok(login.headers['set-cookie'])
      })

      it('lets cross-site safe methods through', async () => {
        const res = await t.request({
          method: 'GET',
          url: '/users/me',
          headers: { ...user.headers, ...CROSS_SITE },
        })
        assert.equal(res.statusCode, 200)
      })
    } else {
      it('is not applied to the Bearer backend', async () => {
        const res = await patchMe(CROSS_SITE, 'Cross-site with a Bearer token')
        assert.equal(res.statusCode, 200)
        assert.equal(json(res).displayName, 'Cross-site with a Bearer token')
        const login = await t.request({
          method: 'POST',
          url: '/login',
          headers: CROSS_SITE,
          payload: { email: user.email, password: PASSWORD },
        })
        assert.equal(login.statusCode, 200)
        const role = await t.request({
          method: 'POST',
          url: '/users/roles',
          headers: { ...admin, ...CROSS_SITE },
          payload: { name: 'bearer-cross-site' },
        })
        assert.equal(role.statusCode, 201)
      })
    }
  })
}

describe('CSRF defence on guarded application routes', () => {
  let t: TestApp
  before(async () => {
    t = await buildApp({
      backend: 'session',
      appRoutes: (app) => {
        app.post('/app/action', { config: { requireUser: true } }, async () => ({ done: true }))
      },
    })
  })
  after(async () => {
    await t?.destroy()
  })
  it('refuses a cross-site POST to a route guarded by config', async () => {
    const { email } = await t.createUser()
    const headers = await t.login(email)
    assertProblem(
      await t.request({ method: 'POST', url: '/app/action', headers: { ...headers, ...CROSS_SITE } }),
      403,
      'ERR_CROSS_ORIGIN',
    )
    assert.equal((await t.request({ method: 'POST', url: '/app/action', headers })).statusCode, 200)
  })
})
