/**
 * The admin routes on roles on the three backends: create, list, get, update, delete, assign, revoke,
 * with every failure row (404, 409, malformed ids).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Role } from '../../src/core/user.js'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  json,
  problemFields,
  type TestApp,
  type UserBody,
} from './build-app.js'

const MISSING_ID = '01900000-0000-7000-8000-000000000000'

for (const backend of backends) {
  describe(`admin role routes, ${backend} backend`, () => {
    let t: TestApp
    let admin: Record<string, string>
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT', url: string, payload?: unknown) =>
      t.request({
        method,
        url,
        headers: admin,
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      })
    const create = async (name: string, description?: string) => {
      const res = await call(
        'POST',
        '/users/roles',
        description === undefined ? { name } : { name, description },
      )
      assert.equal(res.statusCode, 201, res.body)
      return json<Role>(res)
    }

    before(async () => {
      t = await buildApp({ backend })
      admin = (await t.admin()).headers
    })
    after(async () => {
      await t?.destroy()
    })

    it('POST /users/roles answers 201 with the role, stored lower-cased; a duplicate of any case is 409', async () => {
      const res = await call('POST', '/users/roles', { name: 'Editor', description: 'Edits things' })
      assert.equal(res.statusCode, 201)
      const role = json<Role>(res)
      assert.equal(role.name, 'editor')
      assert.equal(role.description, 'Edits things')
      assert.match(String(role.id), /^[0-9a-f-]{36}$/)
      assertProblem(await call('POST', '/users/roles', { name: 'EDITOR' }), 409, 'ERR_ROLE_EXISTS')
      assertProblem(await call('POST', '/users/roles', { name: ' editor ' }), 409, 'ERR_ROLE_EXISTS')
      const bad = await call('POST', '/users/roles', { name: 'x', permissions: ['all'] })
      assertProblem(bad, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(bad), ['permissions'])
      assertProblem(await call('POST', '/users/roles', { name: '' }), 400, 'ERR_VALIDATION')
      assertProblem(await call('POST', '/users/roles', { name: 7 }), 400, 'ERR_VALIDATION')
    })

    it('GET /users/roles lists every role; GET /users/roles/:id answers one, 404 or 400', async () => {
      const role = await create('viewer', 'Reads things')
      const listed = await call('GET', '/users/roles')
      assert.equal(listed.statusCode, 200)
      const names = json<Role[]>(listed).map((r) => r.name)
      assert.ok(names.includes('admin') && names.includes('viewer'), names.join())
      const one = await call('GET', `/users/roles/${role.id}`)
      assert.equal(one.statusCode, 200)
      assert.deepEqual(json(one), { id: role.id, name: 'viewer', description: 'Reads things' })
      assertProblem(await call('GET', `/users/roles/${MISSING_ID}`), 404, 'ERR_NOT_FOUND')
      const bad = await call('GET', '/users/roles/not-a-uuid')
      assertProblem(bad, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(bad), ['id'])
    })

    it('PATCH /users/roles/:id with an empty body answers 200 and the role unchanged, like the other PATCH routes', async () => {
      const role = await create('unchanged-role', 'Stays as it is')
      const res = await call('PATCH', `/users/roles/${role.id}`, {})
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(json(res), role)
      assert.deepEqual(json(await call('GET', `/users/roles/${role.id}`)), role)
    })

    it('PATCH /users/roles/:id answers the role; 404, 409 on a taken name, 400 on bad input', async () => {
      const role = await create('drafter')
      await create('taken-name')
      const res = await call('PATCH', `/users/roles/${role.id}`, { name: 'Writer', description: null })
      assert.equal(res.statusCode, 200)
      assert.deepEqual(json(res), { id: role.id, name: 'writer', description: null })
      const described = await call('PATCH', `/users/roles/${role.id}`, { description: 'Writes' })
      assert.equal(json(described).description, 'Writes')
      assertProblem(
        await call('PATCH', `/users/roles/${role.id}`, { name: 'Taken-Name' }),
        409,
        'ERR_ROLE_EXISTS',
      )
      assertProblem(
        await call('PATCH', `/users/roles/${MISSING_ID}`, { name: 'ghost' }),
        404,
        'ERR_NOT_FOUND',
      )
      assertProblem(await call('PATCH', `/users/roles/${MISSING_ID}`, {}), 404, 'ERR_NOT_FOUND')
      assertProblem(await call('PATCH', `/users/roles/${role.id}`, { id: MISSING_ID }), 400, 'ERR_VALIDATION')
      assertProblem(await call('PATCH', '/users/roles/1', { name: 'x' }), 400, 'ERR_VALIDATION')
    })

    it('DELETE /users/roles/:id answers the deleted role and unassigns it; then 404', async () => {
      const role = await create('temporary')
      const { user } = await t.createUser()
      await t.app.users.assignRole(user.id, role.id)
      const res = await call('DELETE', `/users/roles/${role.id}`)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(json(res), { id: role.id, name: 'temporary', description: null })
      assertProblem(await call('GET', `/users/roles/${role.id}`), 404, 'ERR_NOT_FOUND')
      assertProblem(await call('DELETE', `/users/roles/${role.id}`), 404, 'ERR_NOT_FOUND')
      assertProblem(await call('DELETE', '/users/roles/nope'), 400, 'ERR_VALIDATION')
      const after = await call('GET', `/users/${user.id}`)
      assert.deepEqual(json<UserBody>(after).roles, [])
    })

    it('PUT /users/roles/assign and /revoke answer the user with roles; 409 when already / not assigned', async () => {
      const role = await create('reviewer')
      const { user } = await t.createUser()
      const assigned = await call('PUT', '/users/roles/assign', { userId: user.id, roleId: role.id })
      assert.equal(assigned.statusCode, 200)
      assertNoSecrets(assigned)
      const body = json<UserBody>(assigned)
      assert.equal(body.id, user.id)
      assert.deepEqual(body.roles, [{ id: role.id, name: 'reviewer', description: null }])
      assertProblem(
        await call('PUT', '/users/roles/assign', { userId: user.id, roleId: role.id }),
        409,
        'ERR_ROLE_ALREADY_ASSIGNED',
      )
      const revoked = await call('PUT', '/users/roles/revoke', { userId: user.id, roleId: role.id })
      assert.equal(revoked.statusCode, 200)
      assert.deepEqual(json<UserBody>(revoked).roles, [])
      assertProblem(
        await call('PUT', '/users/roles/revoke', { userId: user.id, roleId: role.id }),
        409,
        'ERR_ROLE_NOT_ASSIGNED',
      )
    })

    it('PUT /users/roles/assign and /revoke answer 404 for an unknown user or role, 400 for malformed ids', async () => {
      const role = await create('auditor')
      const { user } = await t.createUser()
      for (const action of ['assign', 'revoke']) {
        const url = `/users/roles/${action}`
        const noUser = await call('PUT', url, { userId: MISSING_ID, roleId: role.id })
        assertProblem(noUser, 404, 'ERR_NOT_FOUND')
        assert.match(json(noUser).detail as string, /user/)
        const noRole = await call('PUT', url, { userId: user.id, roleId: MISSING_ID })
        assertProblem(noRole, 404, 'ERR_NOT_FOUND')
        assert.match(json(noRole).detail as string, /role/)
        const malformed = await call('PUT', url, { userId: 'x', roleId: 1 })
        assertProblem(malformed, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(malformed).sort(), ['roleId', 'userId'])
        const missing = await call('PUT', url, { userId: user.id })
        assertProblem(missing, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(missing), ['roleId'])
      }
    })
  })
}
