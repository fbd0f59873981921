/**
 * The admin routes on users on the three backends: `GET /users` (pages, cursor, filters, sort, the
 * maximum page size), `GET`/`PATCH`/`DELETE /users/:id`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  json,
  PASSWORD,
  problemFields,
  type TestApp,
  type UserBody,
} from './build-app.js'

interface Page {
  items: UserBody[]
  total: number
  nextCursor: string | null
}

const MISSING_ID = '01900000-0000-7000-8000-000000000000'

for (const backend of backends) {
  describe(`admin user routes, ${backend} backend`, () => {
    let t: TestApp
    let admin: Record<string, string>
    const list = (query: string) => t.request({ method: 'GET', url: `/users?${query}`, headers: admin })
    const page = async (query: string) => {
      const res = await list(query)
      assert.equal(res.statusCode, 200, res.body)
      assertNoSecrets(res)
      return json<Page>(res)
    }

    // Six users in a domain of their own: a0..a5, alternately active/verified, two with the role 'editor'.
    const domain = `list-${backend}.example.org`
    const emails = Array.from({ length: 6 }, (_, i) => `a${i}@${domain}`)
    before(async () => {
      t = await buildApp({ backend })
      admin = (await t.admin()).headers
      const editor = await t.app.users.addRole({ name: 'editor' })
      for (const [i, email] of emails.entries()) {
        const { user } = await t.createUser({ email, verified: i % 2 === 0, active: i % 3 !== 2 })
        if (i < 2) await t.app.users.assignRole(user.id, editor.id)
      }
    })
    after(async () => {
      await t?.destroy()
    })

    describe('GET /users', () => {
      it('pages with limit and offset, and counts the total', async () => {
        const first = await page(`email=${domain}&orderBy=email&limit=4`)
        assert.equal(first.total, 6)
        assert.deepEqual(
          first.items.map((u) => u.email),
          emails.slice(0, 4),
        )
        const second = await page(`email=${domain}&orderBy=email&limit=4&offset=4`)
        assert.equal(second.total, 6)
        assert.deepEqual(
          second.items.map((u) => u.email),
          emails.slice(4),
        )
        const all = await page('')
        assert.equal(all.total, 7)
        assert.equal(all.items.length, 7)
      })

      it('pages with the cursor of the previous page', async () => {
        const seen: string[] = []
        let cursor: string | null = null
        for (let i = 0; i < 4; i++) {
          const query: string = `email=${domain}&orderBy=email&order=desc&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
          const p: Page = await page(query)
          seen.push(...p.items.map((u) => u.email))
          cursor = p.nextCursor
          if (!cursor) break
        }
        assert.deepEqual(seen, [...emails].reverse())
        assert.equal(cursor, null)
        assertProblem(await list('cursor=not-a-cursor'), 400, 'ERR_VALIDATION')
      })

      it('walks every sort in both directions by cursor; a cursor under another sort or filter is a 400', async () => {
        // Regression: the cursor did not carry its sort: page 2 read as the docs said (cursor only) was
        // `{"items":[],"total":5}` with 200, and with `order=desc` it held the wrong user.
        const ids = (p: Page) => p.items.map((u) => u.id)
        for (const orderBy of ['createdAt', 'updatedAt', 'email'] as const) {
          for (const order of ['asc', 'desc'] as const) {
            const sort = `email=${domain}&orderBy=${orderBy}&order=${order}`
            const full = await page(`${sort}&limit=100`)
            const keys = full.items.map((u) => u[orderBy])
            const sorted = [...keys].sort()
            assert.deepEqual(keys, order === 'asc' ? sorted : sorted.reverse(), `${sort}`)
            const walked: Array<string | number> = []
            let cursor: string | null = null
            do {
              const p: Page = await page(
                `${sort}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
              )
              assert.equal(p.total, 6)
              walked.push(...ids(p))
              cursor = p.nextCursor
            } while (cursor && walked.length <= 12)
            assert.deepEqual(walked, ids(full), sort)
            assert.equal(new Set(walked).size, 6)

            const next = (await page(`${sort}&limit=2`)).nextCursor
            assert.ok(next)
            const c = `cursor=${encodeURIComponent(next)}&limit=2`
            const other = orderBy === 'email' ? 'createdAt' : orderBy === 'createdAt' ? 'updatedAt' : 'email'
            const mismatched = [
              `${c}`,
              `${c}&email=${domain}`,
              `${c}&email=${domain}&orderBy=${orderBy}&order=${order === 'asc' ? 'desc' : 'asc'}`,
              `${c}&email=${domain}&orderBy=${other}&order=${order}`,
              `${c}&orderBy=${orderBy}&order=${order}`,
              `${c}&email=${domain}&orderBy=${orderBy}&order=${order}&isActive=true`,
            ]
            for (const query of mismatched) {
              if (orderBy === 'createdAt' && order === 'asc' && query === `${c}&email=${domain}`) continue
              const res = await list(query)
              assertProblem(res, 400, 'ERR_VALIDATION')
              assert.deepEqual(problemFields(res), ['cursor'], `${sort} then ${query}`)
            }
          }
        }
      })

      it('filters by email substring (case-insensitive), isActive, isVerified and role', async () => {
        const byEmail = await page(`email=${encodeURIComponent(`A3@${domain.toUpperCase()}`)}`)
        assert.deepEqual(
          byEmail.items.map((u) => u.email),
          [emails[3]],
        )
        const inactive = await page(`email=${domain}&isActive=false&orderBy=email`)
        assert.deepEqual(
          inactive.items.map((u) => u.email),
          [emails[2], emails[5]],
        )
        assert.ok(inactive.items.every((u) => !u.isActive))
        const unverified = await page(`email=${domain}&isVerified=false&orderBy=email`)
        assert.deepEqual(
          unverified.items.map((u) => u.email),
          [emails[1], emails[3], emails[5]],
        )
        const both = await page(`email=${domain}&isVerified=true&isActive=true&orderBy=email`)
        assert.deepEqual(
          both.items.map((u) => u.email),
          [emails[0], emails[4]],
        )
        const editors = await page('role=Editor&orderBy=email')
        assert.deepEqual(
          editors.items.map((u) => u.email),
          [emails[0], emails[1]],
        )
        assert.ok(editors.items.every((u) => u.roles.some((r) => r.name === 'editor')))
        assert.equal((await page('role=nobody')).total, 0)
      })

      it('sorts by orderBy and order', async () => {
        const asc = await page(`email=${domain}&orderBy=email&order=asc`)
        const desc = await page(`email=${domain}&orderBy=email&order=desc`)
        assert.deepEqual(
          asc.items.map((u) => u.email),
          emails,
        )
        assert.deepEqual(
          desc.items.map((u) => u.email),
          [...emails].reverse(),
        )
        const created = await page(`email=${domain}&orderBy=createdAt&order=desc`)
        const times = created.items.map((u) => Date.parse(u.createdAt))
        assert.deepEqual(
          times,
          [...times].sort((a, b) => b - a),
        )
      })

      it('refuses a limit above the maximum and malformed queries with 400 naming the parameter', async () => {
        for (const [query, field] of [
          ['limit=101', 'limit'],
          ['limit=0', 'limit'],
          ['limit=ten', 'limit'],
          ['offset=-1', 'offset'],
          ['orderBy=passwordHash', 'orderBy'],
          ['order=sideways', 'order'],
          ['isActive=maybe', 'isActive'],
          ['unknown=1', 'unknown'],
        ] as const) {
          const res = await list(query)
          assertProblem(res, 400, 'ERR_VALIDATION')
          assert.ok(problemFields(res).includes(field), `${query}: ${res.body}`)
        }
        assert.equal((await list('limit=100')).statusCode, 200)
      })
    })

    describe('GET /users/:id', () => {
      it('answers the user, 404 for an unknown id, 400 for a malformed one', async () => {
        const { user } = await t.createUser({ displayName: 'Target' })
        const res = await t.request({ method: 'GET', url: `/users/${user.id}`, headers: admin })
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        assert.equal(json(res).displayName, 'Target')
        assertProblem(
          await t.request({ method: 'GET', url: `/users/${MISSING_ID}`, headers: admin }),
          404,
          'ERR_NOT_FOUND',
        )
        const bad = await t.request({ method: 'GET', url: '/users/12345', headers: admin })
        assertProblem(bad, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(bad), ['id'])
      })
    })

    describe('PATCH /users/:id', () => {
      it('updates fields, statuses, the email and the password', async () => {
        const { user, email } = await t.createUser()
        const res = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin,
          payload: { displayName: 'Edited', isVerified: false },
        })
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        assert.equal(json(res).displayName, 'Edited')
        assert.equal(json(res).isVerified, false)
        const newEmail = `renamed.${backend}@example.net`
        const renamed = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin,
          payload: { email: newEmail, isVerified: true, password: 'set by the admin 1' },
        })
        assert.equal(renamed.statusCode, 200)
        assert.equal(json(renamed).email, newEmail)
        assert.equal(json(renamed).isVerified, true)
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          401,
        )
        await t.login(newEmail, 'set by the admin 1')
      })

      it('answers an empty patch with 200 and the user unchanged (it was a 400)', async () => {
        const { user } = await t.createUser({ displayName: 'Kept' })
        const before = json<UserBody>(
          await t.request({ method: 'GET', url: `/users/${user.id}`, headers: admin }),
        )
        const res = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin,
          payload: {},
        })
        assert.equal(res.statusCode, 200, res.body)
        assertNoSecrets(res)
        assert.deepEqual(json<UserBody>(res), before)
        const after = await t.request({ method: 'GET', url: `/users/${user.id}`, headers: admin })
        assert.deepEqual(json<UserBody>(after), before)
      })

      it('answers 400 for unknown fields and a failing policy, 404 for an unknown user, 409 for a taken email', async () => {
        const { user } = await t.createUser()
        const other = await t.createUser()
        const unknown = await t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin,
          payload: { roles: ['admin'] },
        })
        assertProblem(unknown, 400, 'ERR_VALIDATION')
        assert.deepEqual(problemFields(unknown), ['roles'])
        assertProblem(
          await t.request({
            method: 'PATCH',
            url: `/users/${user.id}`,
            headers: admin,
            payload: { password: 'short' },
          }),
          400,
          'ERR_PASSWORD_POLICY',
        )
        assertProblem(
          await t.request({
            method: 'PATCH',
            url: `/users/${MISSING_ID}`,
            headers: admin,
            payload: { displayName: 'x' },
          }),
          404,
          'ERR_NOT_FOUND',
        )
        assertProblem(
          await t.request({
            method: 'PATCH',
            url: `/users/${user.id}`,
            headers: admin,
            payload: { email: other.email },
          }),
          409,
          'ERR_USER_EXISTS',
        )
      })
    })

    describe('DELETE /users/:id', () => {
      it('answers the deleted user, then 404', async () => {
        const { user, email } = await t.createUser({ displayName: 'Gone' })
        const res = await t.request({ method: 'DELETE', url: `/users/${user.id}`, headers: admin })
        assert.equal(res.statusCode, 200)
        assertNoSecrets(res)
        assert.equal(json(res).id, user.id)
        assert.equal(json(res).displayName, 'Gone')
        assertProblem(await t.request({ method: 'GET', url: `/users/${user.id}`, headers: admin }), 404)
        assertProblem(await t.request({ method: 'DELETE', url: `/users/${user.id}`, headers: admin }), 404)
        assertProblem(
          await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
          401,
          'ERR_INVALID_CREDENTIALS',
        )
        assertProblem(await t.request({ method: 'DELETE', url: '/users/not-an-id', headers: admin }), 400)
      })
    })
  })

  describe(`maxPageSize option, ${backend} backend`, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({ backend, maxPageSize: 5 })
    })
    after(async () => {
      await t?.destroy()
    })
    it('caps the page size', async () => {
      const { headers } = await t.admin()
      assert.equal((await t.request({ method: 'GET', url: '/users?limit=5', headers })).statusCode, 200)
      const res = await t.request({ method: 'GET', url: '/users?limit=6', headers })
      assertProblem(res, 400, 'ERR_VALIDATION')
      assert.deepEqual(problemFields(res), ['limit'])
    })
  })
}
