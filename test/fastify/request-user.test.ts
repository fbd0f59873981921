/**
 * `request.user` and what the guards hand to application code never carry the password hash (the
 * defect: `request.user` was the full record, `passwordHash` included, so an app route returning or
 * logging it leaked the hash). Routes that need more ask the service.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { requireUser } from '../../src/fastify/index.js'
import { testDialects } from '../helpers/databases.js'
import { backends, buildApp, json, type TestApp } from './build-app.js'

const HASH_PREFIX = /\$argon2|\$scrypt|\$2[aby]\$/

for (const { name: dialect, skip } of testDialects) {
  for (const backend of backends) {
    describe(`request.user without secrets, ${backend} backend on ${dialect}`, { skip }, () => {
      let t: TestApp
      before(async () => {
        t = await buildApp({
          backend,
          dialect,
          appRoutes(app) {
            // Raw text, not the plugin's serializer: what the app would see if it printed the object.
            const inspect = async (request: { user: unknown }) => {
              const user = request.user as Record<string, unknown> | null
              return {
                present: user !== null,
                hasHashKey: user !== null && 'passwordHash' in user,
                dump: JSON.stringify(user).replace(/"passwordHash"/g, '"<key>"'),
              }
            }
            app.get('/app/by-hook', { preHandler: requireUser() }, inspect)
            app.get('/app/by-config', { config: { requireUser: true } }, inspect)
            app.get('/app/me-source', { preHandler: requireUser() }, async (request) => {
              // What a route that needs the full record does: ask the service.
              const full = await app.users.getUser(request.user!.id)
              return { serviceHasHash: HASH_PREFIX.test(full.passwordHash) }
            })
          },
        })
      })
      after(async () => {
        await t?.destroy()
      })

      it('request.user set by requireUser() and by route config has no passwordHash', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        for (const url of ['/app/by-hook', '/app/by-config']) {
          const res = await t.request({ method: 'GET', url, headers })
          assert.equal(res.statusCode, 200, res.body)
          const body = json<{ present: boolean; hasHashKey: boolean; dump: string }>(res)
          assert.equal(body.present, true, url)
          assert.equal(body.hasHashKey, false, `${url}: ${body.dump}`)
          assert.doesNotMatch(body.dump, HASH_PREFIX, url)
          assert.match(body.dump, new RegExp(email.replace(/[.+]/g, '\\$&')), url)
        }
        const source = await t.request({ method: 'GET', url: '/app/me-source', headers })
        assert.deepEqual(json(source), { serviceHasHash: true })
      })
    })
  }
}
