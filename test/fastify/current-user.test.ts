/**
 * `GET /users/me` and `PATCH /users/me` on the three backends: only self-editable fields ("Input and
 * output" in docs/security.md), admin-only custom fields. The email change has its own suite, email-change.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  displayNameMigration,
  json,
  PASSWORD,
  problemFields,
  type TestApp,
  type UserBody,
  uniqueEmail,
} from './build-app.js'

for (const backend of backends) {
  describe(`current user routes, ${backend} backend`, () => {
    let t: TestApp
    const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })
    const patch = (headers: Record<string, string>, payload: unknown) =>
      t.request({ method: 'PATCH', url: '/users/me', headers, payload: payload as Record<string, unknown> })

    before(async () => {
      t = await buildApp({ backend })
    })
    after(async () => {
      await t?.destroy()
    })

    it('PATCH /users/me with an empty body answers 200 and the user unchanged (it was a 400)', async () => {
      const { email } = await t.createUser({ displayName: 'Same' })
      const headers = await t.login(email)
      const before = json<UserBody>(await me(headers))
      for (const payload of [{}, { currentPassword: PASSWORD }]) {
        const res = await patch(headers, payload)
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(json<UserBody>(res), before, JSON.stringify(payload))
      }
      assert.deepEqual(json<UserBody>(await me(headers)), before)
    })

    it('GET /users/me answers the user, without secrets; 401 without a credential', async () => {
      const { email, user } = await t.createUser({ displayName: 'Me' })
      await t.makeAdmin(user.id)
      const res = await me(await t.login(email))
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^application\/json/)
      assertNoSecrets(res)
      const body = json<UserBody>(res)
      assert.deepEqual(Object.keys(body).sort(), [
        'createdAt',
        'displayName',
        'email',
        'id',
        'isActive',
        'isVerified',
        'pendingEmail',
        'roles',
        'updatedAt',
      ])
      assert.equal(body.id, user.id)
      assert.equal(body.displayName, 'Me')
      assert.deepEqual(
        body.roles.map((r) => r.name),
        ['admin'],
      )
      assertProblem(await t.request({ method: 'GET', url: '/users/me' }), 401, 'ERR_UNAUTHENTICATED')
    })

    it('PATCH /users/me updates a self-editable field', async () => {
      const { email, user } = await t.createUser()
      const headers = await t.login(email)
      const res = await patch(headers, { displayName: 'Renamed' })
      assert.equal(res.statusCode, 200)
      assertNoSecrets(res)
      assert.equal(json(res).displayName, 'Renamed')
      const row = await t.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow()
      assert.equal(row.display_name, 'Renamed')
      assert.equal(json(await patch(headers, { displayName: null })).displayName, null)
    })

    it('PATCH /users/me refuses every field that is not self-editable with 400, and changes nothing', async () => {
      const { email, user } = await t.createUser({ displayName: 'Before' })
      const headers = await t.login(email)
      const before = await t.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow()
      const forbidden: Array<[string, unknown]> = [
        ['isActive', false],
        ['isVerified', false],
        ['roles', [{ name: 'admin' }]],
        ['id', '01900000-0000-7000-8000-000000000000'],
        ['password', 'a new password here'],
        ['passwordHash', '$argon2id$v=19$m=19456,t=2,p=1$x$y'],
        ['authVersion', 9],
        ['createdAt', '2020-01-01T00:00:00.000Z'],
        ['isAdmin', true],
      ]
      for (const [field, value] of forbidden) {
        const res = await patch(headers, { displayName: 'After', [field]: value })
        assertProblem(res, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(res), [field], res.body)
      }
      const typed = await patch(headers, { displayName: 7 })
      assertProblem(typed, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(typed), ['displayName'])
      const after = await t.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow()
      assert.deepEqual(after, before)
      const res = await me(headers)
      assert.equal(res.statusCode, 200)
      assert.equal(json(res).displayName, 'Before')
    })

    it('PATCH /users/me with __proto__ or constructor.prototype is refused and changes nothing', async () => {
      const { email, user } = await t.createUser()
      const headers = await t.login(email)
      for (const payload of [
        '{"__proto__":{"isVerified":false,"roles":["admin"],"isActive":false}}',
        '{"displayName":"x","__proto__":{"isActive":false}}',
        '{"constructor":{"prototype":{"isActive":false}}}',
      ]) {
        const res = await t.request({
          method: 'PATCH',
          url: '/users/me',
          headers: { ...headers, 'content-type': 'application/json' },
          payload,
        })
        assertProblem(res, 400)
      }
      const res = await me(headers)
      assert.equal(res.statusCode, 200)
      const body = json<UserBody>(res)
      assert.equal(body.isActive, true)
      assert.equal(body.displayName, null)
      assert.deepEqual(body.roles, [])
      assert.equal(({} as Record<string, unknown>).isActive, undefined)
      const admin = await t.request({ method: 'GET', url: '/users', headers })
      assertProblem(admin, 403, 'ERR_FORBIDDEN')
      assert.ok(user.id)
    })

    // The email change (pending until confirmed, with the password) is covered in email-change.test.ts.

    it('PATCH /users/me answers 401 without a credential, whatever the body', async () => {
      assertProblem(await patch({}, { displayName: 'x' }), 401, 'ERR_UNAUTHENTICATED')
      assertProblem(await patch({}, { isActive: true }), 401, 'ERR_UNAUTHENTICATED')
    })
  })

  describe(`admin-only custom fields, ${backend} backend`, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend,
        requireVerificationOnRegistration: false,
        userFields: {
          displayName: { type: 'string', maxLength: 100 },
          tier: { type: 'string', maxLength: 20 },
        },
        adminOnlyFields: ['tier'],
        migrations: {
          ...displayNameMigration,
          '0002-tier': {
            up: async (db) => {
              await db.schema.alterTable('users').addColumn('tier', 'varchar(20)').execute()
            },
          },
        },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('are read by everyone, written by admins only', async () => {
      const { email, user } = await t.createUser()
      const headers = await t.login(email)
      const own = await t.request({ method: 'PATCH', url: '/users/me', headers, payload: { tier: 'gold' } })
      assertProblem(own, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(own), ['tier'])
      const registered = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email: uniqueEmail('tier'), password: PASSWORD, tier: 'gold' },
      })
      assertProblem(registered, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(registered), ['tier'])
      const admin = await t.admin()
      const res = await t.request({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: admin.headers,
        payload: { tier: 'gold' },
      })
      assert.equal(res.statusCode, 200)
      assert.equal(json(res).tier, 'gold')
      const mine = await t.request({ method: 'GET', url: '/users/me', headers })
      assert.equal(json(mine).tier, 'gold')
      assert.equal(
        json(await t.request({ method: 'PATCH', url: '/users/me', headers, payload: { displayName: 'Ok' } }))
          .displayName,
        'Ok',
      )
    })
  })
}
