/**
 * The conformance tests of `UserRepository`: what any storage of users must do for the service to stay
 * correct, race-free and safe on bad input.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { NewUserRecord, UserListQuery, UserRepository } from '../core/repositories.js'
import type { BaseUser, UserFieldSchema } from '../core/user.js'
import { ConflictError, ValidationError } from '../kernel/errors.js'
import {
  type ConformanceTarget,
  FAKE_PASSWORD_HASH,
  type Fixture,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

/** How many writers race in the concurrency tests. */
const RACERS = 8

function isStringField(schema: UserFieldSchema): boolean {
  return schema.type === 'string' || (Array.isArray(schema.type) && schema.type.includes('string'))
}

/** Registers the user-repository tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function userRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  let serial = 0
  const users = (): UserRepository<BaseUser> => required(fixture.repos().userRepository, 'userRepository')
  const email = (label = 'user'): string => {
    serial += 1
    return `${label}.${serial}.${fixture.tag}@conformance.test`
  }
  const insert = (overrides: Partial<NewUserRecord> = {}): Promise<BaseUser> =>
    users().insert({
      email: email(),
      passwordHash: FAKE_PASSWORD_HASH,
      isActive: true,
      isVerified: false,
      ...overrides,
    })
  /** Every page of a query, following `nextCursor`. */
  const walk = async (query: UserListQuery): Promise<BaseUser[]> => {
    const seen: BaseUser[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 100; pages += 1) {
      const page = await users().list(cursor === undefined ? query : { ...query, cursor })
      seen.push(...page.items)
      if (page.nextCursor === null) return seen
      cursor = page.nextCursor
    }
    throw new Error('more than 100 pages: nextCursor never ends')
  }

  describe('UserRepository', () => {
    it('inserts a user with every column, authVersion 0, no roles and the clock as createdAt', async () => {
      const at = fixture.clock.now()
      const address = email('insert')
      const username = `u.${fixture.tag}.${serial}`
      const user = await insert({ email: address, username, isVerified: true })
      assert.equal(user.email, address)
      assert.equal(user.username, username)
      assert.equal(user.passwordHash, FAKE_PASSWORD_HASH)
      assert.equal(user.isActive, true)
      assert.equal(user.isVerified, true)
      assert.equal(user.authVersion, 0)
      assert.equal(user.pendingEmail, null)
      assert.deepEqual(user.roles, [])
      assert.equal(user.createdAt.getTime(), at)
      assert.equal(user.updatedAt.getTime(), at)
      assert.deepEqual(await users().findById(user.id), user)
    })

    it('makes ids of its idType', async () => {
      const { id } = await insert()
      if (users().idType === 'integer') assert.ok(Number.isSafeInteger(id) && (id as number) > 0, `id ${id}`)
      else assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      const other = await insert()
      assert.notEqual(other.id, id)
    })

    it('takes a given id, and makes fresh ids after it', async () => {
      const before = await insert()
      // The next id the storage would have made itself, as an import of existing users would take it.
      const given = users().idType === 'integer' ? (before.id as number) + 1 : randomUUID()
      const imported = await insert({ id: given })
      assert.equal(imported.id, given)
      assert.equal((await users().findById(given))?.email, imported.email)
      const after = await insert()
      assert.ok(![before.id, given].includes(after.id), `id ${after.id} given twice`)
      await assert.rejects(insert({ id: given }), ConflictError)
    })

    it('keeps a username of null', async () => {
      const user = await insert({ username: null })
      assert.equal((await users().findById(user.id))?.username, null)
    })

    it('throws ConflictError naming the field on a taken email or username, and stores nothing', async () => {
      const taken = await insert({ username: `taken.${fixture.tag}` })
      await assert.rejects(insert({ email: taken.email }), (err: unknown) => {
        assert.ok(err instanceof ConflictError, `not a ConflictError: ${String(err)}`)
        assert.equal(err.field, 'email')
        return true
      })
      const second = email('second')
      await assert.rejects(insert({ email: second, username: `taken.${fixture.tag}` }), (err: unknown) => {
        assert.ok(err instanceof ConflictError, `not a ConflictError: ${String(err)}`)
        assert.equal(err.field, 'username')
        return true
      })
      assert.equal(await users().findOne({ email: second }), null)
    })

    it('lets exactly one of concurrent inserts of one email win', async () => {
      const address = email('race')
      const results = await Promise.allSettled(
        Array.from({ length: RACERS }, () => insert({ email: address })),
      )
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ConflictError, String(r.reason))
      }
    })

    it('answers null for an absent user', async () => {
      const { id } = await insert()
      await users().delete(id)
      assert.equal(await users().findById(id), null)
      assert.equal(await users().findOne({ email: email('nobody') }), null)
      assert.equal(await users().update(id, { isActive: false }), null)
      assert.equal(await users().delete(id), null)
    })

    it('finds one user by every given column', async () => {
      const user = await insert({ username: `find.${fixture.tag}`, isActive: false })
      assert.equal((await users().findOne({ email: user.email }))?.id, user.id)
      assert.equal((await users().findOne({ username: `find.${fixture.tag}` }))?.id, user.id)
      assert.equal((await users().findOne({ id: user.id }))?.id, user.id)
      assert.equal((await users().findOne({ email: user.email, isActive: false }))?.id, user.id)
      assert.equal(await users().findOne({ email: user.email, isActive: true }), null)
    })

    it('applies a patch and returns the user as the update left it, updatedAt from the clock', async () => {
      const user = await insert()
      fixture.clock.advance(60_000)
      const newEmail = email('moved')
      const updated = await users().update(user.id, {
        email: newEmail,
        isVerified: true,
        pendingEmail: email('pending'),
        passwordHash: `${FAKE_PASSWORD_HASH}2`,
        incrementAuthVersion: true,
      })
      assert.ok(updated)
      assert.equal(updated.email, newEmail)
      assert.equal(updated.isVerified, true)
      assert.equal(updated.passwordHash, `${FAKE_PASSWORD_HASH}2`)
      assert.equal(updated.authVersion, 1)
      assert.equal(updated.createdAt.getTime(), user.createdAt.getTime())
      assert.equal(updated.updatedAt.getTime(), fixture.clock.now())
      assert.deepEqual(await users().findById(user.id), updated)
      const cleared = await users().update(user.id, { pendingEmail: null, username: null })
      assert.equal(cleared?.pendingEmail, null)
      assert.equal(cleared?.authVersion, 1, 'authVersion moves only when asked')
    })

    it('throws ConflictError on an update to a taken email, and changes nothing', async () => {
      const [a, b] = [await insert(), await insert()]
      await assert.rejects(users().update(b.id, { email: a.email, isActive: false }), ConflictError)
      const after = await users().findById(b.id)
      assert.equal(after?.email, b.email)
      assert.equal(after?.isActive, true)
    })

    it('compare-and-set: applies only while every expected value holds', async () => {
      const user = await insert()
      const expect = { authVersion: 0, passwordHash: FAKE_PASSWORD_HASH, isActive: true, pendingEmail: null }
      assert.equal((await users().update(user.id, { isVerified: true }, { expect }))?.isVerified, true)
      for (const wrong of [
        { authVersion: 1 },
        { passwordHash: 'other' },
        { email: email('other') },
        { isActive: false },
        { isVerified: false },
        { pendingEmail: email('other') },
      ]) {
        const result = await users().update(user.id, { isActive: false }, { expect: wrong })
        assert.equal(result, null, `expected ${JSON.stringify(wrong)} must not match`)
      }
      const pending = email('pending')
      await users().update(user.id, { pendingEmail: pending })
      assert.equal(
        await users().update(user.id, { isActive: false }, { expect: { pendingEmail: null } }),
        null,
      )
      const matched = await users().update(
        user.id,
        { pendingEmail: null },
        { expect: { pendingEmail: pending } },
      )
      assert.equal(matched?.pendingEmail, null)
      assert.equal((await users().findById(user.id))?.isActive, true)
    })

    it('compare-and-set: of concurrent writers expecting one state, exactly one wins', async () => {
      const user = await insert()
      const results = await Promise.all(
        Array.from({ length: RACERS }, (_, i) =>
          users().update(
            user.id,
            { passwordHash: `hash-${i}`, incrementAuthVersion: true },
            { expect: { authVersion: 0, passwordHash: FAKE_PASSWORD_HASH } },
          ),
        ),
      )
      const winners = results.filter((r) => r !== null)
      assert.equal(winners.length, 1)
      const stored = await users().findById(user.id)
      assert.equal(stored?.authVersion, 1)
      assert.equal(stored?.passwordHash, winners[0]?.passwordHash)
    })

    it('returns what this very update wrote, never what a concurrent one wrote since', async () => {
      const user = await insert()
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => users().update(user.id, { incrementAuthVersion: true })),
      )
      const versions = results.map((r) => r?.authVersion).sort((a, b) => (a ?? 0) - (b ?? 0))
      assert.deepEqual(
        versions,
        Array.from({ length: RACERS }, (_, i) => i + 1),
      )
    })

    it('deletes a user and returns it; of concurrent deletes exactly one gets the user', async () => {
      const user = await insert()
      const results = await Promise.all(Array.from({ length: RACERS }, () => users().delete(user.id)))
      const winners = results.filter((r) => r !== null)
      assert.equal(winners.length, 1)
      assert.equal(winners[0]?.id, user.id)
      assert.equal(winners[0]?.email, user.email)
      assert.equal(await users().findById(user.id), null)
      // The address is free again.
      assert.equal((await insert({ email: user.email })).email, user.email)
    })

    it('finds a user with every role (none, one, several, by name) and custom field, by id or filter', async (t) => {
      const roles = fixture.repos().roleRepository
      if (!roles) return t.skip('no roleRepository')
      const [none, one, several] = [await insert(), await insert(), await insert()]
      const names = ['zeta', 'alpha', 'mu'].map((name) => `${name}-${fixture.tag}-${serial}`)
      const made = []
      for (const name of names) made.push(await roles.insert({ name, description: `${name} d` }))
      await roles.assign(one.id, made[0]!.id)
      for (const role of made) await roles.assign(several.id, role.id)
      const expected = new Map([
        [none.id, []],
        [one.id, [names[0]]],
        [several.id, [...names].sort()],
      ])
      for (const user of [none, one, several]) {
        const byId = await users().findById(user.id)
        const byEmail = await users().findOne({ email: user.email })
        const byTwo = await users().findOne({ email: user.email, isActive: true })
        assert.deepEqual(
          byId?.roles.map((r) => r.name),
          expected.get(user.id),
        )
        assert.deepEqual(byEmail, byId, 'findOne reads what findById reads, custom fields too')
        assert.deepEqual(byTwo, byId)
      }
      const roleOfSeveral = (await users().findOne({ id: several.id }))?.roles.find(
        (r) => r.name === names[1],
      )
      assert.deepEqual(roleOfSeveral, { ...made[1], description: `${names[1]} d` })
      // A filter many users match still gives one whole user: every role of that one, none of another.
      const anyActive = await users().findOne({ isActive: true })
      assert.ok(anyActive)
      assert.deepEqual(anyActive, await users().findById(anyActive.id))
    })

    it('round-trips, finds and filters by its custom string fields', async () => {
      const fields = Object.entries(users().userFields).filter(([, schema]) => isStringField(schema))
      for (const [field, schema] of fields) {
        const value = `v${fixture.tag}${serial}`.slice(0, schema.maxLength ?? 64)
        const user = await insert({ [field]: value })
        const found = (await users().findById(user.id)) as unknown as Record<string, unknown>
        assert.equal(found[field], value, field)
        assert.equal((await users().findOne({ [field]: value }))?.id, user.id, field)
        const page = await users().list({ filters: { [field]: value }, limit: 10 })
        assert.deepEqual(
          page.items.map((u) => u.id),
          [user.id],
          field,
        )
        const updated = (await users().update(user.id, { [field]: null })) as unknown as Record<
          string,
          unknown
        >
        assert.equal(updated[field], null, field)
      }
    })

    describe('list', () => {
      /** Five users whose emails share a marker, created at distinct times; two of them at the same time. */
      const seed = async (marker: string): Promise<BaseUser[]> => {
        const made: BaseUser[] = []
        for (const [i, name] of ['delta', 'alpha', 'echo', 'charlie', 'bravo'].entries()) {
          if (i !== 2) fixture.clock.advance(1000)
          made.push(
            await insert({
              email: `${name}.${marker}.${fixture.tag}@conformance.test`,
              isActive: i % 2 === 0,
            }),
          )
        }
        return made
      }

      it('filters by an email substring, case-insensitively and literally', async () => {
        const made = await seed('pct_1')
        const page = await users().list({ filters: { email: `PCT_1.${fixture.tag}` }, limit: 50 })
        assert.equal(page.total, 5)
        assert.deepEqual(new Set(page.items.map((u) => u.id)), new Set(made.map((u) => u.id)))
        // `_` and `%` are characters of the address, not wildcards.
        await seed('pctx1')
        assert.equal((await users().list({ filters: { email: `pct_1.${fixture.tag}` }, limit: 50 })).total, 5)
        assert.equal((await users().list({ filters: { email: `pct%.${fixture.tag}` }, limit: 50 })).total, 0)
      })

      it('filters by isActive, isVerified and role, and counts the filtered set', async () => {
        const made = await seed('flags')
        const scope = `flags.${fixture.tag}`
        const active = await users().list({ filters: { email: scope, isActive: true }, limit: 50 })
        assert.equal(active.total, 3)
        assert.ok(active.items.every((u) => u.isActive))
        assert.equal(
          (await users().list({ filters: { email: scope, isVerified: true }, limit: 50 })).total,
          0,
        )
        const roles = fixture.repos().roleRepository
        if (!roles) return
        const role = await roles.insert({ name: `flag-role-${fixture.tag}` })
        await roles.assign(made[1]!.id, role.id)
        const withRole = await users().list({ filters: { email: scope, role: role.name }, limit: 50 })
        assert.equal(withRole.total, 1)
        assert.equal(withRole.items[0]?.id, made[1]!.id)
        assert.deepEqual(
          withRole.items[0]?.roles.map((r) => r.name),
          [role.name],
        )
      })

      it('orders by each sortable field in both directions, ties broken by id', async () => {
        const made = await seed('order')
        const filters = { email: `order.${fixture.tag}` }
        const byEmail = [...made].sort((a, b) => (a.email < b.email ? -1 : 1)).map((u) => u.email)
        const list = async (field: 'email' | 'createdAt' | 'id' | 'updatedAt', direction: 'asc' | 'desc') =>
          (await users().list({ filters, orderBy: { field, direction }, limit: 50 })).items
        assert.deepEqual(
          (await list('email', 'asc')).map((u) => u.email),
          byEmail,
        )
        assert.deepEqual(
          (await list('email', 'desc')).map((u) => u.email),
          [...byEmail].reverse(),
        )
        const key = (u: BaseUser) => [u.createdAt.getTime(), u.id] as const
        const cmp = (a: BaseUser, b: BaseUser) => {
          const [x, y] = [key(a), key(b)]
          return x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0)
        }
        const byCreated = [...made].sort(cmp).map((u) => u.id)
        assert.deepEqual(
          (await list('createdAt', 'asc')).map((u) => u.id),
          byCreated,
        )
        assert.deepEqual(
          (await list('createdAt', 'desc')).map((u) => u.id),
          [...byCreated].reverse(),
        )
        const ids = (await list('id', 'asc')).map((u) => u.id)
        assert.deepEqual(
          ids,
          [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        )
        assert.equal((await list('updatedAt', 'desc')).length, 5)
      })

      it('pages with limit and offset, and with cursors to the end', async () => {
        await seed('pages')
        const query = { filters: { email: `pages.${fixture.tag}` }, limit: 2 }
        const all = (await users().list({ ...query, limit: 50 })).items.map((u) => u.id)
        assert.equal(all.length, 5)
        const second = await users().list({ ...query, offset: 2 })
        assert.deepEqual(
          second.items.map((u) => u.id),
          all.slice(2, 4),
        )
        assert.equal(second.total, 5)
        for (const direction of ['asc', 'desc'] as const) {
          for (const field of ['createdAt', 'email', 'id', 'updatedAt'] as const) {
            const order = { field, direction }
            const full = (await users().list({ ...query, orderBy: order, limit: 50 })).items.map((u) => u.id)
            const walked = (await walk({ ...query, orderBy: order })).map((u) => u.id)
            assert.deepEqual(walked, full, `${field} ${direction}`)
          }
        }
        const last = await users().list({ ...query, limit: 5 })
        assert.equal(last.nextCursor, null)
        const empty = await users().list({ filters: { email: `nothing.${fixture.tag}` }, limit: 2 })
        assert.deepEqual(empty, { items: [], total: 0, nextCursor: null })
      })

      it('keeps cursors stable while users are added and removed between pages', async () => {
        const made = await seed('stable')
        const query = { filters: { email: `stable.${fixture.tag}` }, limit: 2 }
        const first = await users().list(query)
        assert.ok(first.nextCursor)
        // A user that sorts first arrives, and one already read leaves: neither shifts the next page.
        fixture.clock.set(made[0]!.createdAt.getTime() - 60_000)
        await insert({ email: `aaa.stable.${fixture.tag}@conformance.test` })
        fixture.clock.set(made.at(-1)!.createdAt.getTime() + 60_000)
        await users().delete(first.items[0]!.id)
        const rest = await walk({ ...query, cursor: first.nextCursor })
        const seen = [...first.items, ...rest].map((u) => u.id)
        assert.equal(new Set(seen).size, seen.length, 'a user came twice')
        assert.deepEqual(new Set(seen), new Set(made.map((u) => u.id)))
      })

      it('refuses a malformed cursor, or one from another order or filter, with ValidationError', async () => {
        await seed('cursor')
        const query = { filters: { email: `cursor.${fixture.tag}` }, limit: 2 }
        const { nextCursor } = await users().list(query)
        assert.ok(nextCursor)
        const refused = (err: unknown) => {
          assert.ok(err instanceof ValidationError, `not a ValidationError: ${String(err)}`)
          assert.equal(err.field, 'cursor')
          return true
        }
        for (const cursor of ['garbage!', 'x'.repeat(5000), 'eyJhIjoxfQ', '\u0000']) {
          await assert.rejects(
            users().list({ ...query, cursor }),
            refused,
            JSON.stringify(cursor.slice(0, 20)),
          )
        }
        await assert.rejects(
          users().list({ ...query, cursor: nextCursor, orderBy: { field: 'email', direction: 'desc' } }),
          refused,
        )
        await assert.rejects(
          users().list({ ...query, cursor: nextCursor, filters: { email: `other.${fixture.tag}` } }),
          refused,
        )
      })
    })
  })
}

/**
 * Checks a `UserRepository`: inserts and unique violations (one winner of concurrent inserts), look-ups,
 * patches, the compare-and-set `update(id, patch, { expect })` with exactly one winner among concurrent
 * writers, deletes, custom string fields, and the list's filters, orders, offsets and keyset cursors.
 * Give a `roleRepository` too and the role filter is checked as well.
 *
 * @example
 * ```ts
 * import { describeUserRepositoryConformance } from 'fastify-users/testing'
 *
 * describeUserRepositoryConformance({
 *   name: 'my users table',
 *   create: async ({ clock }) => ({ repos: { userRepository: new MyUsers(pool, { now: () => clock.now() }) } }),
 * })
 * ```
 */
export function describeUserRepositoryConformance(
  target: ConformanceTarget<RepositoryPorts & { userRepository: UserRepository<BaseUser> }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    userRepositoryTests(useStorage(target, { before, after }))
  })
}
