/**
 * HTTP hygiene on the three backends: body limit (413), JSON only (415), malformed JSON (400), prototype
 * poisoning, strict validation naming the field, problem+json everywhere, `cache-control: no-store`, and
 * no secret in any body.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { HTTPMethods, LightMyRequestResponse } from 'fastify'
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

interface Route {
  method: HTTPMethods
  url: string
  auth?: boolean
}

for (const backend of backends) {
  describe(`HTTP hygiene, ${backend} backend`, () => {
    let t: TestApp
    let admin: Record<string, string>
    let targetId: string | number
    const routes = (): Route[] => [
      { method: 'POST', url: '/register' },
      { method: 'POST', url: '/login' },
      { method: 'POST', url: '/verify' },
      { method: 'POST', url: '/verify/request' },
      { method: 'POST', url: '/forgot-password' },
      { method: 'POST', url: '/reset-password' },
      { method: 'PATCH', url: '/users/me', auth: true },
      { method: 'POST', url: '/users/me/password', auth: true },
      { method: 'PATCH', url: `/users/${targetId}`, auth: true },
      { method: 'POST', url: '/users/roles', auth: true },
      { method: 'PUT', url: '/users/roles/assign', auth: true },
    ]

    before(async () => {
      t = await buildApp({ backend })
      admin = (await t.admin()).headers
      targetId = (await t.createUser()).user.id
    })
    after(async () => {
      await t?.destroy()
    })

    it('answers 413 problem+json to a body over 16 KiB on every route', async () => {
      const payload = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(17 * 1024) })
      for (const route of routes()) {
        const res = await t.request({
          method: route.method,
          url: route.url,
          headers: { 'content-type': 'application/json', ...(route.auth ? admin : {}) },
          payload,
        })
        assertProblem(res, 413)
        assert.equal(res.headers['cache-control'], 'no-store')
      }
      // Just under the limit is parsed (and then validated).
      const res = await t.request({
        method: 'POST',
        url: '/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(15 * 1024) }),
      })
      assertProblem(res, 400, 'ERR_VALIDATION')
    })

    it('answers 415 problem+json to text/plain, forms and other content types', async () => {
      const body = JSON.stringify({ email: 'a@example.com', password: PASSWORD })
      for (const route of routes()) {
        for (const type of [
          'text/plain',
          'text/plain;charset=UTF-8',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
        ]) {
          const res = await t.request({
            method: route.method,
            url: route.url,
            headers: { 'content-type': type, ...(route.auth ? admin : {}) },
            payload: body,
          })
          assertProblem(res, 415)
        }
      }
    })

    it('parses variants of the JSON content type like the canonical one: never a schema bypass', async () => {
      const email = uniqueEmail('ctype')
      for (const type of [
        'Application/JSON',
        'application/json; charset=utf-8',
        'application/json ; charset=utf-8',
        'application/json\t',
        'application/json;',
      ]) {
        const res = await t.request({
          method: 'POST',
          url: '/register',
          headers: { 'content-type': type },
          payload: JSON.stringify({ email, password: PASSWORD, isVerified: true }),
        })
        if (res.statusCode === 415) assertProblem(res, 415)
        else {
          assertProblem(res, 400, 'ERR_VALIDATION')
          assert.deepEqual(problemFields(res), ['isVerified'], `${JSON.stringify(type)}: ${res.body}`)
        }
      }
      assert.equal(await t.app.users.getUserBy({ email }), null)
      const trace = await t.request({ method: 'TRACE', url: '/login' })
      assert.ok(trace.statusCode === 404 || trace.statusCode === 405, String(trace.statusCode))
    })

    it('answers 400 problem+json to malformed JSON, without parser internals', async () => {
      for (const route of routes()) {
        for (const payload of ['{"email":', '{email: 1}', 'not json', '[1,2']) {
          const res = await t.request({
            method: route.method,
            url: route.url,
            headers: { 'content-type': 'application/json', ...(route.auth ? admin : {}) },
            payload,
          })
          const problem = assertProblem(res, 400)
          assert.doesNotMatch(problem.detail, /at position|Unexpected token|SyntaxError/)
        }
      }
    })

    it('refuses bodies that are not objects with 400 naming the root', async () => {
      for (const payload of ['[]', '"text"', '42', 'null']) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          headers: { 'content-type': 'application/json' },
          payload,
        })
        assertProblem(res, 400)
      }
    })

    it('refuses prototype poisoning and leaves everything unchanged', async () => {
      const { user, email } = await t.createUser()
      const headers = await t.login(email)
      for (const [route, payload] of [
        [
          { method: 'PATCH', url: '/users/me' },
          '{"__proto__":{"isActive":false,"roles":[{"name":"admin"}]}}',
        ],
        [{ method: 'PATCH', url: '/users/me' }, '{"constructor":{"prototype":{"isVerified":false}}}'],
        [
          { method: 'POST', url: '/login' },
          `{"email":"${email}","password":"${PASSWORD}","__proto__":{"x":1}}`,
        ],
        [
          { method: 'POST', url: '/register' },
          `{"email":"${uniqueEmail()}","password":"${PASSWORD}","__proto__":{"isVerified":true}}`,
        ],
      ] as const) {
        const res = await t.request({
          ...route,
          headers: { ...headers, 'content-type': 'application/json' },
          payload,
        })
        assertProblem(res, 400)
      }
      const after = await t.app.users.getUser(user.id)
      assert.equal(after.isActive, true)
      assert.equal(after.isVerified, true)
      assert.deepEqual(after.roles, [])
      assert.equal((Object.prototype as Record<string, unknown>).isActive, undefined)
    })

    it('does not coerce JSON types, and names the failing field', async () => {
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['/login', { email: 'a@example.com', password: 12345678 }, 'password'],
        ['/login', { email: ['a@example.com'], password: PASSWORD }, 'email'],
        ['/login', { email: 'a@example.com', password: { $gt: '' } }, 'password'],
        ['/login', { email: 'a@example.com', 'email ': 'b@example.com', password: PASSWORD }, 'email '],
        ['/login', { email: 'a@example.com', password: true }, 'password'],
        ['/forgot-password', { email: null }, 'email'],
        ['/reset-password', { token: 123, password: PASSWORD }, 'token'],
      ]
      for (const [url, payload, field] of cases) {
        const res = await t.request({ method: 'POST', url, payload })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.ok(problemFields(res).includes(field), `${url} ${JSON.stringify(payload)}: ${res.body}`)
      }
      const patch = await t.request({
        method: 'PATCH',
        url: `/users/${targetId}`,
        headers: admin,
        payload: { isActive: 'false' },
      })
      assertProblem(patch, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(patch), ['isActive'])
      assert.equal((await t.app.users.getUser(targetId)).isActive, true)
    })

    it('answers every plugin route with cache-control: no-store and bodies without secrets', async () => {
      const { email } = await t.createUser({ displayName: 'Scan' })
      const headers = await t.login(email)
      const role = await t.app.users.addRole({ name: `scan-${backend}` })
      const seen: LightMyRequestResponse[] = []
      const send = async (method: HTTPMethods, url: string, h: Record<string, string>, payload?: unknown) => {
        const res = await t.request({
          method,
          url,
          headers: h,
          ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
        })
        seen.push(res)
        return res
      }
      await send('POST', '/register', {}, { email: uniqueEmail('scan'), password: PASSWORD })
      await send('POST', '/register', {}, { email, password: PASSWORD })
      await send('POST', '/login', {}, { email, password: PASSWORD })
      await send('POST', '/login', {}, { email, password: 'wrong password' })
      await send('POST', '/verify', {}, { token: 'a.b.c' })
      await send('POST', '/verify/request', {}, { email })
      await send('POST', '/forgot-password', {}, { email })
      await send('POST', '/reset-password', {}, { token: 'a.b.c', password: PASSWORD })
      await send('GET', '/users/me', headers)
      await send('GET', '/users/me', {})
      await send('PATCH', '/users/me', headers, { displayName: 'Scanned' })
      await send('POST', '/users/me/password', headers, {
        currentPassword: 'wrong one',
        newPassword: PASSWORD,
      })
      await send('GET', '/users', admin)
      await send('GET', '/users', headers)
      await send('GET', `/users/${targetId}`, admin)
      await send('PATCH', `/users/${targetId}`, admin, { displayName: 'Scanned' })
      await send('GET', '/users/roles', admin)
      await send('GET', `/users/roles/${role.id}`, admin)
      await send('PUT', '/users/roles/assign', admin, { userId: targetId, roleId: role.id })
      await send('PUT', '/users/roles/revoke', admin, { userId: targetId, roleId: role.id })
      await send('PATCH', `/users/roles/${role.id}`, admin, { description: 'scanned' })
      await send('DELETE', `/users/roles/${role.id}`, admin)
      await send('POST', '/logout', headers)
      await send('DELETE', `/users/${targetId}`, admin)
      for (const res of seen) {
        const where = `${res.raw.req.method} ${res.raw.req.url} (${res.statusCode})`
        assert.equal(res.headers['cache-control'], 'no-store', where)
        assert.equal(res.headers['x-content-type-options'], 'nosniff', where)
        assertNoSecrets(res)
        if (res.statusCode >= 400) assertProblem(res, res.statusCode)
        else if (res.statusCode !== 204)
          assert.match(String(res.headers['content-type']), /^application\/json/, where)
      }
      assert.ok(seen.some((r) => r.statusCode === 200))
      assert.ok(seen.some((r) => r.statusCode === 401))
      assert.ok(seen.some((r) => r.statusCode === 403))
      const deleted = json(seen.at(-1)!)
      assert.equal(deleted.id, targetId)
    })
  })
}
