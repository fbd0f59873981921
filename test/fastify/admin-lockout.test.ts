/**
 * Admin self-lockout and the last admin, over HTTP on every database. Before the fix an admin could
 * deactivate or delete themselves, take away their own admin role or delete it, and the last admin could
 * be removed: only the CLI could undo it. Now: 409 `ERR_SELF_LOCKOUT` / `ERR_LAST_ADMIN`, nothing changes,
 * and two admins removing each other at the same moment leave one of them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BaseUser } from '../../src/core/user.js'
import { rolesAccepted } from '../../src/fastify/guards.js'
import { LastAdminError } from '../../src/kernel/errors.js'
import { testDialects } from '../helpers/databases.js'
import { assertProblem, buildApp, json, type TestApp, uniqueEmail } from './build-app.js'

for (const dialect of testDialects) {
  describe(`admin self-lockout and last admin on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    let adminRoleId: BaseUser['id']

    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        // A support role may manage users but is no admin: it can reach the last admin.
        routes: {
          userManagement: { guards: [rolesAccepted('admin', 'support')] },
          roleManagement: { guards: [rolesAccepted('admin', 'support')] },
        },
      })
      adminRoleId = (await t.app.users.addRole({ name: 'admin' })).id
      await t.app.users.addRole({ name: 'support' })
    })
    after(async () => {
      await t?.destroy()
    })

    /** Removes every admin link, so each test starts from the admins it makes. */
    async function resetAdmins() {
      const admins = await t.app.users.listUsers({ filters: { role: 'admin' }, limit: 100 })
      for (const u of admins.items) await t.app.users.revokeRole(u.id, adminRoleId, { force: true })
    }

    async function activeAdmins(): Promise<number> {
      return (await t.app.users.listUsers({ filters: { role: 'admin', isActive: true }, limit: 100 })).total
    }

    it('refuses an admin deactivating, deleting or demoting themselves (ERR_SELF_LOCKOUT), changing nothing', async () => {
      await resetAdmins()
      const me = await t.admin()
      await t.admin() // another admin exists: the refusal is about the self, not the count
      const id = me.user.id
      const headers = me.headers
      assertProblem(
        await t.request({ method: 'PATCH', url: `/users/${id}`, headers, payload: { isActive: false } }),
        409,
        'ERR_SELF_LOCKOUT',
      )
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/${id}`, headers }),
        409,
        'ERR_SELF_LOCKOUT',
      )
      assertProblem(
        await t.request({
          method: 'PUT',
          url: '/users/roles/revoke',
          headers,
          payload: { userId: id, roleId: adminRoleId },
        }),
        409,
        'ERR_SELF_LOCKOUT',
      )
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/roles/${adminRoleId}`, headers }),
        409,
        'ERR_SELF_LOCKOUT',
      )
      assertProblem(
        await t.request({
          method: 'PATCH',
          url: `/users/roles/${adminRoleId}`,
          headers,
          payload: { name: 'former-admin' },
        }),
        409,
        'ERR_SELF_LOCKOUT',
      )
      const still = await t.app.users.getUser(id)
      assert.equal(still.isActive, true)
      assert.deepEqual(
        still.roles.map((r) => r.name),
        ['admin'],
      )
      // Harmless self-edits still work.
      const ok = await t.request({
        method: 'PATCH',
        url: `/users/${id}`,
        headers,
        payload: { displayName: 'Me' },
      })
      assert.equal(ok.statusCode, 200, ok.body)
      // Another admin may do it.
      const other = await t.admin()
      const res = await t.request({
        method: 'PATCH',
        url: `/users/${id}`,
        headers: other.headers,
        payload: { isActive: false },
      })
      assert.equal(res.statusCode, 200, res.body)
    })

    it('refuses removing the last active admin (ERR_LAST_ADMIN), changing nothing', async () => {
      await resetAdmins()
      const { user: admin } = await t.admin()
      const support = await t.createUser({ email: uniqueEmail('support') })
      const supportRole = await t.app.users.getRoleByName('support')
      assert.ok(supportRole)
      await t.app.users.assignRole(support.user.id, supportRole.id)
      const headers = await t.login(support.email)
      assertProblem(
        await t.request({
          method: 'PATCH',
          url: `/users/${admin.id}`,
          headers,
          payload: { isActive: false },
        }),
        409,
        'ERR_LAST_ADMIN',
      )
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/${admin.id}`, headers }),
        409,
        'ERR_LAST_ADMIN',
      )
      assertProblem(
        await t.request({
          method: 'PUT',
          url: '/users/roles/revoke',
          headers,
          payload: { userId: admin.id, roleId: adminRoleId },
        }),
        409,
        'ERR_LAST_ADMIN',
      )
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/roles/${adminRoleId}`, headers }),
        409,
        'ERR_LAST_ADMIN',
      )
      assert.equal(await activeAdmins(), 1)
      // An inactive admin does not count: deactivate a second admin, the first is still the last.
      const second = await t.admin()
      await t.app.users.updateUser(second.user.id, { isActive: false } as never)
      assertProblem(
        await t.request({ method: 'DELETE', url: `/users/${admin.id}`, headers }),
        409,
        'ERR_LAST_ADMIN',
      )
      // The service refuses too (app code, CLI without --force); force is the operator's way out.
      await assert.rejects(t.app.users.deleteUser(admin.id), LastAdminError)
      await t.app.users.deleteUser(admin.id, { force: true })
      assert.equal(await activeAdmins(), 0)
    })

    it('lets exactly one of two admins removing each other at the same moment win', async () => {
      for (const action of ['delete', 'deactivate', 'revoke'] as const) {
        await resetAdmins()
        const a = await t.admin()
        const b = await t.admin()
        const remove = (by: Record<string, string>, target: BaseUser['id']) =>
          action === 'delete'
            ? t.request({ method: 'DELETE', url: `/users/${target}`, headers: by })
            : action === 'deactivate'
              ? t.request({
                  method: 'PATCH',
                  url: `/users/${target}`,
                  headers: by,
                  payload: { isActive: false },
                })
              : t.request({
                  method: 'PUT',
                  url: '/users/roles/revoke',
                  headers: by,
                  payload: { userId: target, roleId: adminRoleId },
                })
        const results = await Promise.all([remove(a.headers, b.user.id), remove(b.headers, a.user.id)])
        const bodies = `${action}: ${results.map((r) => r.body).join(' | ')}`
        // The loser is refused by the last-admin rule, or (when the winner's change landed before the
        // loser was even authenticated) no longer has a usable account (401) or the admin role (403).
        assert.equal(results.filter((r) => r.statusCode === 200).length, 1, bodies)
        const refused = results.find((r) => r.statusCode !== 200)
        assert.ok(refused)
        if (refused.statusCode === 409) assert.equal(json(refused).code, 'ERR_LAST_ADMIN', bodies)
        else assert.ok([401, 403].includes(assertProblem(refused, refused.statusCode).status), bodies)
        assert.equal(await activeAdmins(), 1, action)
      }
    })
  })
}
