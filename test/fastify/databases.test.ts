/**
 * The login, session and admin flows of every backend on every database: SQLite always, PostgreSQL and
 * MariaDB/MySQL when their URLs are set (in CI always; see test/helpers/databases.ts).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import type { IdType, Role } from '../../src/core/user.js'
import { testDialects } from '../helpers/databases.js'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  json,
  PASSWORD,
  type TestApp,
  type UserBody,
  uniqueEmail,
} from './build-app.js'

const runs: Array<{ backend: AuthBackendName; idType: IdType }> = [
  ...backends.map((backend) => ({ backend, idType: 'uuid' as const })),
  { backend: 'jwt', idType: 'integer' },
]

for (const dialect of testDialects) {
  for (const { backend, idType } of runs) {
    describe(`flows on ${dialect.name}, ${backend} backend, ${idType} ids`, { skip: dialect.skip }, () => {
      let t: TestApp
      const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })

      before(async () => {
        t = await buildApp({
          backend,
          dialect: dialect.name,
          idType,
          session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 },
        })
      })
      after(async () => {
        await t?.destroy()
      })

      it('login flow: register, verify, log in, read, fail generically, log out', async () => {
        const email = uniqueEmail('flow')
        const registered = await t.request({
          method: 'POST',
          url: '/register',
          payload: { email: email.toUpperCase(), password: PASSWORD, displayName: 'Flow' },
        })
        assert.equal(registered.statusCode, 202)
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          403,
          'ERR_NOT_VERIFIED',
        )
        const verified = await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token: await t.tokenFor(email, /verify/i), password: PASSWORD },
        })
        assert.equal(verified.statusCode, 200)
        assert.equal(verified.headers['set-cookie'], undefined)
        // A taken address answers exactly like a new one (the verified owner's password stays).
        const taken = await t.request({
          method: 'POST',
          url: '/register',
          payload: { email, password: 'someone else entirely' },
        })
        assert.equal(taken.body, registered.body)
        const headers = await t.login(email)
        const res = await me(headers)
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        const body = json<UserBody>(res)
        assert.equal(body.email, email)
        assert.equal(body.displayName, 'Flow')
        assert.equal(body.isVerified, true)
        assert.equal(typeof body.id, idType === 'uuid' ? 'string' : 'number')
        const wrong = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'wrong password' },
        })
        const unknown = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: uniqueEmail('nobody'), password: PASSWORD },
        })
        assertProblem(wrong, 401, 'ERR_INVALID_CREDENTIALS')
        assert.equal(unknown.body, wrong.body)
        assert.equal((await t.request({ method: 'POST', url: '/logout', headers })).statusCode, 204)
        assertProblem(await me(headers), 401)
      })

      it('session flow: credentials end on password change, reset, deactivation and expiry', async () => {
        const { user, email } = await t.createUser()
        const a = await t.login(email)
        const b = await t.login(email)
        if (backend === 'session') {
          const secret = (a.cookie ?? '').split('=')[1] ?? ''
          const rows = await t.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()
          assert.equal(rows.length, 2)
          assert.ok(rows.some((r) => r.id === createHash('sha256').update(secret).digest('hex')))
          assert.ok(rows.every((r) => r.id !== secret))
        }
        const changed = await t.request({
          method: 'POST',
          url: '/users/me/password',
          headers: a,
          payload: { currentPassword: PASSWORD, newPassword: 'second password 2' },
        })
        assert.equal(changed.statusCode, 204)
        assertProblem(await me(b), 401)

        await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
        const c = await t.login(email, 'second password 2')
        const reset = await t.request({
          method: 'POST',
          url: '/reset-password',
          payload: { token: await t.tokenFor(email, /reset/i), password: 'third password 3' },
        })
        assert.equal(reset.statusCode, 204)
        assertProblem(await me(c), 401)

        const d = await t.login(email, 'third password 3')
        const adminHeaders = (await t.admin()).headers
        const deactivated = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: adminHeaders,
          payload: { isActive: false },
        })
        assert.equal(deactivated.statusCode, 200)
        assertProblem(await me(d), 401)
        await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: adminHeaders,
          payload: { isActive: true },
        })

        const e = await t.login(email, 'third password 3')
        assert.equal((await me(e)).statusCode, 200)
        t.clock.advance(backend === 'session' ? 601 : 906)
        assertProblem(await me(e), 401)
      })

      it('admin flow: roles, assignment, listing, revocation on the next request, deletion', async () => {
        const admin = await t.admin()
        const created = await t.request({
          method: 'POST',
          url: '/users/roles',
          headers: admin.headers,
          payload: { name: 'Moderator', description: 'Moderates' },
        })
        assert.equal(created.statusCode, 201)
        const role = json<Role>(created)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/roles',
            headers: admin.headers,
            payload: { name: 'MODERATOR' },
          }),
          409,
          'ERR_ROLE_EXISTS',
        )
        const { user, email } = await t.createUser({ email: uniqueEmail('mod') })
        const assigned = await t.request({
          method: 'PUT',
          url: '/users/roles/assign',
          headers: admin.headers,
          payload: { userId: user.id, roleId: role.id },
        })
        assert.equal(assigned.statusCode, 200)
        assert.deepEqual(
          json<UserBody>(assigned).roles.map((r) => r.name),
          ['moderator'],
        )
        assertProblem(
          await t.request({
            method: 'PUT',
            url: '/users/roles/assign',
            headers: admin.headers,
            payload: { userId: user.id, roleId: role.id },
          }),
          409,
          'ERR_ROLE_ALREADY_ASSIGNED',
        )
        const listed = await t.request({
          method: 'GET',
          url: '/users?role=moderator',
          headers: admin.headers,
        })
        assert.equal(listed.statusCode, 200)
        assert.deepEqual(
          json<{ items: UserBody[] }>(listed).items.map((u) => u.email),
          [email],
        )
        const pages: string[] = []
        let cursor: string | null = null
        do {
          const query: string = `/users?limit=1&orderBy=email${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
          const page: { items: UserBody[]; nextCursor: string | null; total: number } = json(
            await t.request({ method: 'GET', url: query, headers: admin.headers }),
          )
          pages.push(...page.items.map((u) => u.email))
          cursor = page.nextCursor
        } while (cursor && pages.length < 50)
        assert.deepEqual(pages, [...pages].sort())
        assert.ok(pages.includes(email) && pages.includes(admin.email))

        // The user becomes an admin, then stops being one on the next request.
        const adminRole = await t.app.users.getRoleByName('admin')
        assert.ok(adminRole)
        await t.request({
          method: 'PUT',
          url: '/users/roles/assign',
          headers: admin.headers,
          payload: { userId: user.id, roleId: adminRole.id },
        })
        const headers = await t.login(email)
        assert.equal((await t.request({ method: 'GET', url: '/users', headers })).statusCode, 200)
        const revoked = await t.request({
          method: 'PUT',
          url: '/users/roles/revoke',
          headers: admin.headers,
          payload: { userId: user.id, roleId: adminRole.id },
        })
        assert.equal(revoked.statusCode, 200)
        assertProblem(await t.request({ method: 'GET', url: '/users', headers }), 403, 'ERR_FORBIDDEN')

        const deletedRole = await t.request({
          method: 'DELETE',
          url: `/users/roles/${role.id}`,
          headers: admin.headers,
        })
        assert.equal(deletedRole.statusCode, 200)
        assert.deepEqual(json<UserBody>(await me(headers)).roles, [])
        const deleted = await t.request({
          method: 'DELETE',
          url: `/users/${user.id}`,
          headers: admin.headers,
        })
        assert.equal(deleted.statusCode, 200)
        assert.equal(json(deleted).id, user.id)
        assertProblem(await me(headers), 401)
        assertProblem(
          await t.request({ method: 'GET', url: `/users/${user.id}`, headers: admin.headers }),
          404,
        )
      })
    })
  }
}
