/**
 * Guards on the three backends: the admin route groups (deny by default: 401 without a credential, 403
 * without the role, before any input is looked at), `guards: []` / `'public'` / custom guards, and
 * `rolesAccepted` / `rolesRequired` / `requireUser` on the application's own routes, as preHandlers and
 * through route `config`. Role changes apply on the user's next request.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { Role } from '../../src/core/user.js'
import { rolesAccepted, rolesRequired } from '../../src/fastify/index.js'
import { assertProblem, backends, buildApp, json, type TestApp, uniqueEmail } from './build-app.js'

function appRoutes(app: FastifyInstance): void {
  const who = async (request: { user: { email: string } | null }) => ({ email: request.user?.email ?? null })
  app.get('/app/pre-accepted', { preHandler: rolesAccepted('editor', 'admin') }, who)
  app.get('/app/pre-required', { preHandler: rolesRequired('editor', 'reviewer') }, who)
  app.get('/app/config-accepted', { config: { rolesAccepted: ['Editor'] } }, who)
  app.get('/app/config-required', { config: { rolesRequired: ['editor', 'reviewer'] } }, who)
  app.get('/app/config-user', { config: { requireUser: true } }, who)
  app.get('/app/public', who)
  app.post(
    '/app/config-user',
    {
      config: { requireUser: true },
      schema: {
        body: {
          type: 'object',
          required: ['note'],
          properties: { note: { type: 'string' } },
          additionalProperties: false,
        },
      },
    },
    who,
  )
}

for (const backend of backends) {
  describe(`guards, ${backend} backend`, () => {
    let t: TestApp
    let editorRole: Role
    let reviewerRole: Role
    let adminHeaders: Record<string, string>
    let plain: { email: string; headers: Record<string, string> }
    let target: { id: string | number }
    let targetRole: Role

    before(async () => {
      t = await buildApp({ backend, appRoutes })
      adminHeaders = (await t.admin()).headers
      editorRole = await t.app.users.addRole({ name: 'editor' })
      reviewerRole = await t.app.users.addRole({ name: 'reviewer' })
      targetRole = await t.app.users.addRole({ name: 'target' })
      const p = await t.createUser()
      plain = { email: p.email, headers: await t.login(p.email) }
      target = (await t.createUser()).user
    })
    after(async () => {
      await t?.destroy()
    })

    describe('admin routes', () => {
      const adminRoutes = (): Array<{
        method: HTTPMethods
        url: string
        payload?: Record<string, unknown>
      }> => [
        { method: 'GET', url: '/users' },
        { method: 'GET', url: '/users?limit=100000' },
        { method: 'GET', url: `/users/${target.id}` },
        { method: 'GET', url: '/users/not-an-id' },
        { method: 'PATCH', url: `/users/${target.id}`, payload: { isActive: false } },
        { method: 'PATCH', url: `/users/${target.id}`, payload: { bogus: true } },
        { method: 'DELETE', url: `/users/${target.id}` },
        { method: 'GET', url: '/users/roles' },
        { method: 'POST', url: '/users/roles', payload: { name: 'sneaky' } },
        { method: 'POST', url: '/users/roles', payload: {} },
        { method: 'GET', url: `/users/roles/${targetRole.id}` },
        { method: 'PATCH', url: `/users/roles/${targetRole.id}`, payload: { name: 'renamed' } },
        { method: 'DELETE', url: `/users/roles/${targetRole.id}` },
        { method: 'DELETE', url: '/users/roles/1' },
        { method: 'PUT', url: '/users/roles/assign', payload: { userId: target.id, roleId: targetRole.id } },
        { method: 'PUT', url: '/users/roles/assign', payload: { userId: 'me', roleId: 'admin' } },
        { method: 'PUT', url: '/users/roles/revoke', payload: { userId: target.id, roleId: targetRole.id } },
      ]

      it('answer 401 without a credential, whatever the input', async () => {
        for (const route of adminRoutes()) {
          const res = await t.request(route)
          assertProblem(res, 401, 'ERR_UNAUTHENTICATED')
          assert.ok(res.headers['www-authenticate'])
        }
      })

      it('answer 403 to a user without the admin role, whatever the input, and change nothing', async () => {
        for (const route of adminRoutes()) {
          const res = await t.request({ ...route, headers: plain.headers })
          assertProblem(res, 403, 'ERR_FORBIDDEN')
        }
        const user = await t.app.users.getUser(target.id)
        assert.equal(user.isActive, true)
        assert.deepEqual(user.roles, [])
        assert.equal((await t.app.users.getRole(targetRole.id)).name, 'target')
        assert.equal(await t.app.users.getRoleByName('sneaky'), null)
      })

      it('answer 200 to an admin', async () => {
        for (const url of [
          '/users',
          `/users/${target.id}`,
          '/users/roles',
          `/users/roles/${targetRole.id}`,
        ]) {
          const res = await t.request({ method: 'GET', url, headers: adminHeaders })
          assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
        }
      })

      it('the current-user routes answer 401 without a credential', async () => {
        for (const route of [
          { method: 'GET', url: '/users/me' },
          { method: 'PATCH', url: '/users/me', payload: { displayName: 'x' } },
          { method: 'PATCH', url: '/users/me', payload: { roles: ['admin'] } },
          { method: 'POST', url: '/users/me/password', payload: { currentPassword: 'a', newPassword: 'b' } },
          { method: 'POST', url: '/users/me/password', payload: {} },
          { method: 'POST', url: '/logout' },
        ] as const) {
          assertProblem(await t.request(route), 401, 'ERR_UNAUTHENTICATED')
        }
      })
    })

    describe("the application's own routes", () => {
      const get = (url: string, headers: Record<string, string> = {}) =>
        t.request({ method: 'GET', url, headers })

      it('rolesAccepted, rolesRequired and requireUser as preHandlers and as route config', async () => {
        const editor = await t.createUser()
        await t.app.users.assignRole(editor.user.id, editorRole.id)
        const both = await t.createUser()
        await t.app.users.assignRole(both.user.id, editorRole.id)
        await t.app.users.assignRole(both.user.id, reviewerRole.id)
        const editorHeaders = await t.login(editor.email)
        const bothHeaders = await t.login(both.email)

        const expect: Array<[string, Record<string, string>, number]> = [
          ['/app/pre-accepted', {}, 401],
          ['/app/pre-accepted', plain.headers, 403],
          ['/app/pre-accepted', editorHeaders, 200],
          ['/app/pre-accepted', adminHeaders, 200],
          ['/app/pre-required', {}, 401],
          ['/app/pre-required', editorHeaders, 403],
          ['/app/pre-required', adminHeaders, 403],
          ['/app/pre-required', bothHeaders, 200],
          ['/app/config-accepted', {}, 401],
          ['/app/config-accepted', plain.headers, 403],
          ['/app/config-accepted', adminHeaders, 403],
          ['/app/config-accepted', editorHeaders, 200],
          ['/app/config-required', {}, 401],
          ['/app/config-required', editorHeaders, 403],
          ['/app/config-required', bothHeaders, 200],
          ['/app/config-user', {}, 401],
          ['/app/config-user', plain.headers, 200],
          ['/app/public', {}, 200],
        ]
        for (const [url, headers, status] of expect) {
          const res = await get(url, headers)
          if (status === 200) assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
          else assertProblem(res, status, status === 401 ? 'ERR_UNAUTHENTICATED' : 'ERR_FORBIDDEN')
        }
        assert.deepEqual(json(await get('/app/config-user', plain.headers)), { email: plain.email })
        assert.deepEqual(json(await get('/app/pre-required', bothHeaders)), { email: both.email })
        assert.deepEqual(json(await get('/app/public')), { email: null })
      })

      it('a config guard runs before the route validates its body', async () => {
        assertProblem(
          await t.request({ method: 'POST', url: '/app/config-user', payload: { wrong: 1 } }),
          401,
          'ERR_UNAUTHENTICATED',
        )
        const res = await t.request({
          method: 'POST',
          url: '/app/config-user',
          headers: plain.headers,
          payload: { note: 'x' },
        })
        assert.equal(res.statusCode, 200)
      })

      it("a revoked role stops working on the user's next request, a granted one starts", async () => {
        const { user, email } = await t.createUser()
        await t.app.users.assignRole(user.id, editorRole.id)
        const headers = await t.login(email)
        assert.equal((await get('/app/config-accepted', headers)).statusCode, 200)
        const revoked = await t.request({
          method: 'PUT',
          url: '/users/roles/revoke',
          headers: adminHeaders,
          payload: { userId: user.id, roleId: editorRole.id },
        })
        assert.equal(revoked.statusCode, 200)
        assertProblem(await get('/app/config-accepted', headers), 403, 'ERR_FORBIDDEN')
        assertProblem(await get('/app/pre-accepted', headers), 403, 'ERR_FORBIDDEN')
        const assigned = await t.request({
          method: 'PUT',
          url: '/users/roles/assign',
          headers: adminHeaders,
          payload: { userId: user.id, roleId: editorRole.id },
        })
        assert.equal(assigned.statusCode, 200)
        assert.equal((await get('/app/config-accepted', headers)).statusCode, 200)
      })

      it('a revoked admin role closes the admin routes on the next request', async () => {
        const second = await t.admin()
        assert.equal((await get('/users', second.headers)).statusCode, 200)
        const adminRole = await t.app.users.getRoleByName('admin')
        assert.ok(adminRole)
        const res = await t.request({
          method: 'PUT',
          url: '/users/roles/revoke',
          headers: adminHeaders,
          payload: { userId: second.user.id, roleId: adminRole.id },
        })
        assert.equal(res.statusCode, 200)
        assertProblem(await get('/users', second.headers), 403, 'ERR_FORBIDDEN')
      })
    })
  })

  describe(`route group guards option, ${backend} backend`, () => {
    for (const group of ['userManagement', 'roleManagement'] as const) {
      it(`refuses to start with routes.${group}.guards: []`, async () => {
        await assert.rejects(buildApp({ backend, routes: { [group]: { guards: [] } } }), (err: unknown) => {
          assert.ok(err instanceof TypeError, String(err))
          assert.match(err.message, new RegExp(`routes\\.${group}\\.guards`))
          return true
        })
      })
    }

    describe("guards: 'public' and custom guards", () => {
      let t: TestApp
      before(async () => {
        t = await buildApp({
          backend,
          routes: {
            roleManagement: { guards: 'public' },
            userManagement: { guards: [rolesAccepted('auditor')] },
          },
        })
      })
      after(async () => {
        await t?.destroy()
      })

      it("serves a 'public' group to everyone and applies custom guards", async () => {
        const roles = await t.request({ method: 'GET', url: '/users/roles' })
        assert.equal(roles.statusCode, 200)
        const created = await t.request({ method: 'POST', url: '/users/roles', payload: { name: 'auditor' } })
        assert.equal(created.statusCode, 201)
        assertProblem(await t.request({ method: 'GET', url: '/users' }), 401)
        const admin = await t.admin()
        assertProblem(await t.request({ method: 'GET', url: '/users', headers: admin.headers }), 403)
        const auditor = await t.createUser({ email: uniqueEmail('auditor') })
        await t.app.users.assignRole(auditor.user.id, json<Role>(created).id)
        const headers = await t.login(auditor.email)
        assert.equal((await t.request({ method: 'GET', url: '/users', headers })).statusCode, 200)
      })
    })
  })
}

describe('guards outside the plugin', () => {
  it('rolesAccepted and rolesRequired need at least one role name', () => {
    assert.throws(() => rolesAccepted(), TypeError)
    assert.throws(() => rolesRequired(), TypeError)
  })

  it('a malformed route config is refused at registration', async () => {
    await assert.rejects(
      buildApp({
        backend: 'session',
        appRoutes: (app) => {
          app.get('/bad', { config: { rolesAccepted: 'admin' as unknown as string[] } }, async () => ({}))
        },
      }),
      /config\.rolesAccepted/,
    )
  })

  it('a missing role in a rolesRequired config is answered 403 even for admins', async () => {
    const t = await buildApp({
      backend: 'jwt',
      appRoutes: (app) => {
        app.get('/needs-both', { config: { rolesRequired: ['admin', 'ghost'] } }, async () => ({ ok: true }))
      },
    })
    try {
      const admin = await t.admin()
      assertProblem(await t.request({ method: 'GET', url: '/needs-both', headers: admin.headers }), 403)
    } finally {
      await t.destroy()
    }
  })
})
