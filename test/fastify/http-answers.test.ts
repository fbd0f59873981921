/**
 * Every answer under the plugin's paths is problem+json, and carries the plugin's security headers; the
 * application's own routes keep theirs. The defects: a wrong method on a plugin path got Fastify's JSON
 * 404 (not 405 with `Allow`), bad percent-encoding a bare 400, an id over 100 characters a bare 414; the
 * docs page and the API had no security headers beyond nosniff.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { HTTPMethods } from 'fastify'
import { requireUser } from '../../src/fastify/index.js'
import { testDialects } from '../helpers/databases.js'
import { assertProblem, backends, buildApp, json, type TestApp } from './build-app.js'

for (const { name: dialect, skip } of testDialects) {
  for (const backend of backends) {
    describe(`problem+json and headers on every plugin answer, ${backend} backend on ${dialect}`, {
      skip,
    }, () => {
      let t: TestApp
      let admin: Record<string, string>
      before(async () => {
        t = await buildApp({
          backend,
          dialect,
          appRoutes(app) {
            app.get('/app/hello', async () => ({ hello: 'world' }))
            app.get('/app/private', { preHandler: requireUser() }, async () => ({ ok: true }))
          },
        })
        admin = (await t.admin()).headers
      })
      after(async () => {
        await t?.destroy()
      })

      it('answers a wrong method on a plugin path 405 with Allow', async () => {
        const cases: Array<[HTTPMethods, string, string[]]> = [
          ['GET', '/login', ['POST']],
          ['PUT', '/register', ['POST']],
          ['GET', '/verify', ['POST']],
          ['GET', '/reset-password', ['POST']],
          ['DELETE', '/forgot-password', ['POST']],
          ['TRACE', '/login', ['POST']],
          ['OPTIONS', '/logout', ['POST']],
          ['POST', '/users/roles/assign', ['PUT']],
          ['PUT', '/users/me', ['GET', 'HEAD', 'PATCH']],
          ['POST', '/users/12345', ['DELETE', 'GET', 'HEAD', 'PATCH']],
        ]
        for (const [method, url, allow] of cases) {
          const res = await t.request({ method, url, headers: admin })
          assertProblem(res, 405, 'ERR_METHOD_NOT_ALLOWED')
          const header = String(res.headers.allow).split(', ')
          for (const m of allow) assert.ok(header.includes(m), `${method} ${url}: Allow ${res.headers.allow}`)
          assert.equal(res.headers['cache-control'], 'no-store', `${method} ${url}`)
        }
      })

      it('answers unknown paths under the plugin 404 problem+json, and leaves the app its own 404', async () => {
        for (const url of [
          '/users/me/unknown',
          '/verify/nothing',
          '/login/x',
          '/users/roles/1/2/3',
          '/docs/nope',
        ]) {
          const res = await t.request({ method: 'GET', url, headers: admin })
          assertProblem(res, 404, 'ERR_ROUTE_NOT_FOUND')
          assert.equal(res.headers['cache-control'], 'no-store', url)
        }
        const app404 = await t.request({ method: 'GET', url: '/elsewhere' })
        assert.equal(app404.statusCode, 404)
        assert.match(String(app404.headers['content-type']), /^application\/json/)
      })

      it('answers bad percent-encoding 400 and an over-long id 414, both problem+json', async () => {
        for (const url of ['/users/%E0%A4%A', '/users/%zz', '/users/roles/%', '/verify/%C0']) {
          const res = await t.request({ method: 'GET', url, headers: admin })
          assertProblem(res, 400, 'ERR_BAD_URL')
        }
        for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
          const res = await t.request({
            method,
            url: `/users/${'1'.repeat(101)}`,
            headers: admin,
            payload: {},
          })
          assertProblem(res, 414, 'ERR_URL_TOO_LONG')
        }
        const role = await t.request({
          method: 'GET',
          url: `/users/roles/${'a'.repeat(300)}`,
          headers: admin,
        })
        assertProblem(role, 414, 'ERR_URL_TOO_LONG')
      })

      it('sends security headers and no-store on the API answers, errors included', async () => {
        const answers = [
          await t.request({ method: 'GET', url: '/users/me', headers: admin }),
          await t.request({ method: 'GET', url: '/users/me' }),
          await t.request({
            method: 'POST',
            url: '/login',
            payload: { email: 'nobody@example.com', password: 'x' },
          }),
          await t.request({ method: 'GET', url: '/users/roles' }),
          await t.request({ method: 'GET', url: '/app/private' }),
          // Refused by the first hook (the CSRF check on the cookie backends), before any route code.
          await t.request({
            method: 'POST',
            url: '/logout',
            headers: { ...admin, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
          }),
        ]
        assert.deepEqual(
          answers.map((r) => r.statusCode),
          [200, 401, 401, 401, 401, t.cookieName ? 403 : 204],
        )
        for (const res of [...answers.slice(0, 4), answers[5]!]) {
          const where = `${res.raw.req.url} ${res.statusCode}`
          assert.equal(res.headers['cache-control'], 'no-store', where)
          assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, where)
          assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, where)
          assert.equal(res.headers['x-content-type-options'], 'nosniff', where)
          assert.equal(res.headers['referrer-policy'], 'no-referrer', where)
          assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', where)
          assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', where)
          assert.match(String(res.headers['strict-transport-security']), /^max-age=31536000$/, where)
        }
        // A guard of the plugin refusing on an app route: the refusal is not cacheable either.
        assert.equal(answers[4]!.headers['cache-control'], 'no-store')
      })

      it('sends a CSP on the docs UI that lets it load, and nothing on the application routes', async () => {
        const docs = await t.request({ method: 'GET', url: '/docs' })
        assert.equal(docs.statusCode, 200)
        const csp = String(docs.headers['content-security-policy'])
        assert.match(csp, /script-src 'self'/)
        assert.match(csp, /frame-ancestors 'none'/)
        assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/)
        // Every script of the page is a file of the docs, which that policy allows.
        for (const [, src] of docs.body.matchAll(/<script src="([^"]+)"/g)) {
          assert.ok(!/^https?:/.test(src!), src)
          const url = new URL(src!, 'http://localhost/docs').pathname
          const script = await t.request({ method: 'GET', url })
          assert.equal(script.statusCode, 200, url)
        }
        const spec = await t.request({ method: 'GET', url: '/openapi.json' })
        assert.equal(spec.statusCode, 200)
        assert.ok(spec.headers['content-security-policy'])

        const own = await t.request({ method: 'GET', url: '/app/hello' })
        assert.deepEqual(json(own), { hello: 'world' })
        for (const name of [
          'content-security-policy',
          'x-frame-options',
          'strict-transport-security',
          'cache-control',
        ]) {
          assert.equal(own.headers[name], undefined, name)
        }
      })
    })
  }
}
