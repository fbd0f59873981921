/**
 * Logout on the JWT backends in the last seconds of a token's life. The codec accepts a token until `exp`
 * plus its clock tolerance, so the deny-list entry must last as long: a token logged out just before or
 * just after `exp` (inside the tolerance) must stay refused, also after the sweep of expired entries.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { testDialects } from '../helpers/databases.js'
import { assertProblem, buildApp, type TestApp } from './build-app.js'

for (const dialect of testDialects) {
  for (const backend of ['jwt', 'jwt-cookie'] as const) {
    describe(`logout near expiry, ${backend} backend on ${dialect.name}`, { skip: dialect.skip }, () => {
      let t: TestApp
      const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })
      const logout = (headers: Record<string, string>) =>
        t.request({ method: 'POST', url: '/logout', headers })
      const sweep = () => createKyselyRepositories(t.db).tokenDenylist.deleteExpired(t.clock.now())

      before(async () => {
        t = await buildApp({ backend, dialect: dialect.name })
      })
      after(async () => {
        await t?.destroy()
      })

      it('revokes a token logged out after exp but inside the clock tolerance', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        t.clock.advance(902) // exp is at 900 s; the codec's tolerance (5 s) still accepts it
        assert.equal((await me(headers)).statusCode, 200, 'the token is still accepted inside the tolerance')
        assert.equal((await logout(headers)).statusCode, 204)
        t.clock.advance(1)
        assertProblem(await me(headers), 401)
      })

      it('keeps a token logged out just before exp revoked after the sweep, until exp + tolerance', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        t.clock.advance(898)
        assert.equal((await logout(headers)).statusCode, 204)
        t.clock.advance(4) // 902 s: past exp, inside the tolerance
        await sweep()
        assertProblem(await me(headers), 401)
        t.clock.advance(2) // 904 s
        await sweep()
        assertProblem(await me(headers), 401)
      })
    })
  }
}
