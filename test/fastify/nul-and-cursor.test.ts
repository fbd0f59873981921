/**
 * Regression: a NUL byte in any text field, and crafted list cursors, answered 500 on PostgreSQL (and
 * MariaDB for `1e400`): the value reached the database, which refused it. Every one must be a 400
 * problem+json that changes nothing, on every database, whether it comes over HTTP (the schemas) or
 * through the service's API (the core's checks).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { ValidationError } from '../../src/kernel/errors.js'
import { testDialects } from '../helpers/databases.js'
import { assertProblem, buildApp, PASSWORD, type TestApp, uniqueEmail } from './build-app.js'

const NUL = '\u0000'
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const UUID = '01900000-0000-7000-8000-000000000000'
// Each crafted cursor is bound to the order it is sent with (`scope`: field, direction and filter digest,
// read from a cursor the server issued), so the type checks of its value and id are what refuses it.
const bound = (parts: string, scope: unknown[]) =>
  Buffer.from(`[${parts},${scope.map((p) => JSON.stringify(p)).join(',')}]`).toString('base64url')
const CRAFTED_CURSORS: Array<[string, (scope: unknown[]) => string]> = [
  ['a string for a timestamp', (s) => bound('"abc","x"', s)],
  ['a fraction', (s) => bound('1.5,"x"', s)],
  ['a number beyond double range', (s) => bound('1e400,"x"', s)],
  ['a valid time and a non-UUID id', (s) => bound(`${Date.now()},"x"`, s)],
  ['a valid time and a NUL id', (s) => bound(`${Date.now()},"\\u0000"`, s)],
  ['an unsafe integer', (s) => bound(`${2 ** 60},"${UUID}"`, s)],
  ['a negative time', (s) => bound(`-1,"${UUID}"`, s)],
  ['three parts', () => cursor([1, UUID, 3])],
  ['the old two parts', () => cursor([1, UUID])],
  ['an object', () => cursor({ a: 1 })],
  ['not JSON', () => Buffer.from('[1,').toString('base64url')],
  ['not base64url', () => '!!!!'],
]

/** The sort field, direction and filter digest a server-issued cursor is bound to. */
const scopeOf = (issued: string) =>
  (JSON.parse(Buffer.from(issued, 'base64url').toString('utf8')) as unknown[]).slice(2)

for (const { name: dialect, skip } of testDialects) {
  describe(`NUL bytes and crafted cursors answer 400, never 500, on ${dialect}`, { skip }, () => {
    let t: TestApp
    let user: { email: string; headers: Record<string, string>; id: string }
    let admin: Record<string, string>
    let roleId: string
    let usersBefore: number

    const countUsers = async () =>
      Number(
        (
          await t.db
            .selectFrom('users')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )

    before(async () => {
      t = await buildApp({ backend: 'session', dialect })
      const created = await t.createUser()
      user = { email: created.email, headers: await t.login(created.email), id: String(created.user.id) }
      admin = (await t.admin()).headers
      roleId = String((await t.app.users.addRole({ name: 'nul-editor' })).id)
      usersBefore = await countUsers()
    })
    after(() => t?.destroy())

    const expect400 = (res: LightMyRequestResponse, what: string) => {
      assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body}`)
      assertProblem(res, 400)
    }

    it('every field of every anonymous route refuses NUL', async () => {
      const email = uniqueEmail('nul')
      const cases: Array<[string, string, Record<string, unknown>]> = [
        ['POST', '/register', { email: `a${NUL}${email}`, password: PASSWORD }],
        ['POST', '/register', { email, password: `${PASSWORD}${NUL}` }],
        ['POST', '/register', { email, password: PASSWORD, displayName: `x${NUL}y` }],
        ['POST', '/login', { email: `${user.email}${NUL}`, password: PASSWORD }],
        ['POST', '/login', { email: user.email, password: `${PASSWORD}${NUL}` }],
        ['POST', '/verify', { token: `abc${NUL}` }],
        ['POST', '/verify/request', { email: `${NUL}${user.email}` }],
        ['POST', '/forgot-password', { email: `${user.email}${NUL}` }],
        ['POST', '/reset-password', { token: `abc${NUL}`, password: PASSWORD }],
        ['POST', '/reset-password', { token: 'abc', password: `${PASSWORD}${NUL}` }],
      ]
      for (const [method, url, payload] of cases) {
        expect400(
          await t.request({ method: method as 'POST', url, payload }),
          `${url} ${JSON.stringify(payload)}`,
        )
      }
      expect400(await t.request({ method: 'POST', url: '/verify?token=%00' }), 'POST /verify?token=%00')
      assert.equal(await countUsers(), usersBefore, 'nothing was registered')
    })

    it('every field of the current-user routes refuses NUL', async () => {
      const cases: Array<[string, string, Record<string, unknown>]> = [
        ['PATCH', '/users/me', { email: `me${NUL}@example.com` }],
        ['PATCH', '/users/me', { displayName: `me${NUL}` }],
        [
          'POST',
          '/users/me/password',
          { currentPassword: `${PASSWORD}${NUL}`, newPassword: 'another good password' },
        ],
        [
          'POST',
          '/users/me/password',
          { currentPassword: PASSWORD, newPassword: `another good password${NUL}` },
        ],
      ]
      for (const [method, url, payload] of cases) {
        const res = await t.request({ method: method as 'POST', url, payload, headers: user.headers })
        expect400(res, `${method} ${url} ${JSON.stringify(payload)}`)
      }
      const me = await t.app.users.getUser(user.id)
      assert.equal(me.email, user.email)
      assert.equal((me as unknown as { displayName: unknown }).displayName, null)
      await t.login(user.email) // the password did not change
    })

    it('every field and query of the admin routes refuses NUL', async () => {
      for (const query of ['email=%00', 'email=a%00b', 'role=%00', 'cursor=%00']) {
        expect400(
          await t.request({ method: 'GET', url: `/users?${query}`, headers: admin }),
          `GET /users?${query}`,
        )
      }
      expect400(await t.request({ method: 'GET', url: '/users/%00', headers: admin }), 'GET /users/%00')
      const cases: Array<[string, string, Record<string, unknown>]> = [
        ['PATCH', `/users/${user.id}`, { email: `x${NUL}@example.com` }],
        ['PATCH', `/users/${user.id}`, { displayName: NUL }],
        ['PATCH', `/users/${user.id}`, { password: `${PASSWORD}${NUL}` }],
        ['POST', '/users/roles', { name: `r${NUL}` }],
        ['POST', '/users/roles', { name: 'nul-role', description: `d${NUL}` }],
        ['PATCH', `/users/roles/${roleId}`, { name: `r${NUL}` }],
        ['PATCH', `/users/roles/${roleId}`, { description: `d${NUL}` }],
        ['PUT', '/users/roles/assign', { userId: `${user.id}${NUL}`, roleId }],
      ]
      for (const [method, url, payload] of cases) {
        const res = await t.request({ method: method as 'POST', url, payload, headers: admin })
        expect400(res, `${method} ${url} ${JSON.stringify(payload)}`)
      }
      assert.equal((await t.app.users.getRole(roleId)).description, null)
      assert.equal(await t.app.users.getRoleByName('nul-role'), null)
    })

    it('crafted cursors are refused whatever the order', async () => {
      // The user and the admin of `before`: two rows, so a page of one has a next cursor.
      for (const orderBy of ['createdAt', 'updatedAt', 'email']) {
        const first = await t.request({
          method: 'GET',
          url: `/users?limit=1&orderBy=${orderBy}`,
          headers: admin,
        })
        const scope = scopeOf((JSON.parse(first.body) as { nextCursor: string }).nextCursor)
        for (const [what, make] of CRAFTED_CURSORS) {
          const res = await t.request({
            method: 'GET',
            url: `/users?orderBy=${orderBy}&cursor=${encodeURIComponent(make(scope))}`,
            headers: admin,
          })
          assert.ok(res.statusCode < 500, `${orderBy}, ${what}: ${res.statusCode} ${res.body}`)
          // A string sort value is a valid email cursor; only its id part can be wrong then.
          assertProblem(res, 400, 'ERR_VALIDATION')
        }
      }
    })

    it('a cursor walks every sort in both directions, each user once; under another sort or filter it is a 400', async () => {
      // Regression: the cursor did not carry its sort: page 2 without the sort was an empty 200, and with
      // `order=desc` it held the wrong user.
      for (let i = 0; i < 3; i++) await t.createUser()
      const get = (query: string) => t.request({ method: 'GET', url: `/users?${query}`, headers: admin })
      type Page = { items: Array<Record<string, string>>; nextCursor: string | null; total: number }
      for (const orderBy of ['createdAt', 'updatedAt', 'email']) {
        for (const order of ['asc', 'desc']) {
          const sort = `orderBy=${orderBy}&order=${order}`
          const full = JSON.parse((await get(`${sort}&limit=100`)).body) as Page
          const keys = full.items.map((u) => u[orderBy] as string)
          const sorted = [...keys].sort()
          assert.deepEqual(keys, order === 'asc' ? sorted : sorted.reverse(), sort)
          const walked: string[] = []
          let next: string | null = null
          do {
            const res = await get(`${sort}&limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`)
            assert.equal(res.statusCode, 200, res.body)
            const page = JSON.parse(res.body) as Page
            assert.equal(page.total, full.total)
            walked.push(...page.items.map((u) => String(u.id)))
            next = page.nextCursor
          } while (next && walked.length <= full.total)
          assert.deepEqual(
            walked,
            full.items.map((u) => String(u.id)),
            sort,
          )

          const issued = (JSON.parse((await get(`${sort}&limit=2`)).body) as Page).nextCursor
          assert.ok(issued)
          const c = `cursor=${encodeURIComponent(issued)}&limit=2`
          const other = orderBy === 'email' ? 'createdAt' : orderBy === 'createdAt' ? 'updatedAt' : 'email'
          const mismatched = [
            `${c}&orderBy=${orderBy}&order=${order === 'asc' ? 'desc' : 'asc'}`,
            `${c}&orderBy=${other}&order=${order}`,
            `${c}&${sort}&isActive=true`,
            `${c}&${sort}&email=example`,
          ]
          if (sort !== 'orderBy=createdAt&order=asc') mismatched.push(c)
          for (const query of mismatched) {
            const res = await get(query)
            const body = assertProblem(res, 400, 'ERR_VALIDATION')
            assert.deepEqual(
              (body.errors as Array<{ field: string }> | undefined)?.map((e) => e.field),
              ['cursor'],
              `${sort} then ${query}: ${res.body}`,
            )
          }
        }
      }
    })

    it('the service refuses NUL in every string it would store or look up (the core boundary)', async () => {
      const users = t.app.users
      const refused = async (what: string, run: () => Promise<unknown>) => {
        await assert.rejects(run, (err) => err instanceof ValidationError, what)
      }
      await refused('addUser displayName', () =>
        users.addUser({ email: uniqueEmail('core'), password: PASSWORD, displayName: `x${NUL}` } as never),
      )
      await refused('updateUser displayName', () => users.updateUser(user.id, { displayName: NUL } as never))
      await refused('getUserBy email', () => users.getUserBy({ email: `${user.email}${NUL}` }))
      await refused('getUserBy custom column', () => users.getUserBy({ displayName: NUL }))
      await refused('listUsers email filter', () => users.listUsers({ filters: { email: NUL } }))
      await refused('listUsers cursor', () => users.listUsers({ cursor: cursor([1e308 * 10, 'x']) }))
      await refused('addRole description', () => users.addRole({ name: 'core-nul', description: NUL }))
      await refused('updateRole description', () => users.updateRole(roleId, { description: `a${NUL}` }))
      assert.equal(await countUsers(), usersBefore + 3)
    })
  })
}
