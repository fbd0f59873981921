/**
 * The conformance tests of `RoleRepository`: roles, their unique names, and the links between users and
 * roles.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import type { RoleRepository } from '../core/repositories.js'
import type { Id, Role } from '../core/user.js'
import { ConflictError } from '../kernel/errors.js'
import {
  type ConformanceTarget,
  FAKE_PASSWORD_HASH,
  type Fixture,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

const RACERS = 8

/** Registers the role-repository tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function roleRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  let serial = 0
  const roles = (): RoleRepository<Role> => required(fixture.repos().roleRepository, 'roleRepository')
  const name = (label = 'role'): string => {
    serial += 1
    return `${label}-${serial}-${fixture.tag}`
  }
  /** A stored user's id, or `null` (and the test skipped) when the storage has no user repository. */
  const someUser = async (t: TestContext): Promise<Id | null> => {
    const users = fixture.repos().userRepository
    if (!users) {
      t.skip('user-role links need a userRepository in `repos`')
      return null
    }
    const user = await users.insert({
      email: `${name('user')}@conformance.test`,
      passwordHash: FAKE_PASSWORD_HASH,
      isActive: true,
      isVerified: true,
    })
    return user.id
  }
  const rolesOf = async (userId: Id): Promise<string[]> => {
    const user = await required(fixture.repos().userRepository, 'userRepository').findById(userId)
    return (user?.roles ?? []).map((r) => r.name).sort()
  }

  describe('RoleRepository', () => {
    it('inserts a role, found by id and by name, description null by default', async () => {
      const role = await roles().insert({ name: name() })
      assert.equal(role.description, null)
      assert.deepEqual(await roles().findById(role.id), role)
      assert.deepEqual(await roles().findByName(role.name), role)
      const described = await roles().insert({ name: name(), description: 'Can do things' })
      assert.equal((await roles().findById(described.id))?.description, 'Can do things')
    })

    it('answers null for an absent role', async () => {
      const role = await roles().insert({ name: name() })
      assert.deepEqual(await roles().delete(role.id), role)
      assert.equal(await roles().findById(role.id), null)
      assert.equal(await roles().findByName(role.name), null)
      assert.equal(await roles().update(role.id, { description: 'x' }), null)
      assert.equal(await roles().delete(role.id), null)
    })

    it('throws ConflictError (field name) on a taken name; one of concurrent inserts wins', async () => {
      const role = await roles().insert({ name: name() })
      await assert.rejects(roles().insert({ name: role.name }), (err: unknown) => {
        assert.ok(err instanceof ConflictError, `not a ConflictError: ${String(err)}`)
        assert.equal(err.field, 'name')
        return true
      })
      const raced = name('race')
      const results = await Promise.allSettled(
        Array.from({ length: RACERS }, () => roles().insert({ name: raced })),
      )
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ConflictError, String(r.reason))
      }
    })

    it('lists every role by name', async () => {
      const made = [await roles().insert({ name: name('zz') }), await roles().insert({ name: name('aa') })]
      const listed = await roles().list()
      const names = listed.map((r) => r.name)
      assert.deepEqual(
        names,
        [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      )
      for (const role of made)
        assert.deepEqual(
          listed.find((r) => r.id === role.id),
          role,
        )
    })

    it('updates name and description; ConflictError on a taken name changes nothing', async () => {
      const [a, b] = [await roles().insert({ name: name() }), await roles().insert({ name: name() })]
      const renamed = name('renamed')
      assert.deepEqual(await roles().update(a.id, { name: renamed, description: 'd' }), {
        ...a,
        name: renamed,
        description: 'd',
      })
      assert.equal((await roles().update(a.id, { description: null }))?.description, null)
      assert.deepEqual(await roles().update(a.id, {}), { ...a, name: renamed, description: null })
      await assert.rejects(roles().update(b.id, { name: renamed }), ConflictError)
      assert.deepEqual(await roles().findById(b.id), b)
    })

    it('assigns and revokes once: false when the link already exists or does not', async (t) => {
      const userId = await someUser(t)
      if (userId === null) return
      const role = await roles().insert({ name: name() })
      assert.equal(await roles().assign(userId, role.id), true)
      assert.equal(await roles().assign(userId, role.id), false)
      assert.deepEqual(await rolesOf(userId), [role.name])
      assert.equal(await roles().revoke(userId, role.id), true)
      assert.equal(await roles().revoke(userId, role.id), false)
      assert.deepEqual(await rolesOf(userId), [])
    })

    it('lets exactly one of concurrent assignments of one link succeed', async (t) => {
      const userId = await someUser(t)
      if (userId === null) return
      const role = await roles().insert({ name: name() })
      const results = await Promise.all(Array.from({ length: RACERS }, () => roles().assign(userId, role.id)))
      assert.equal(results.filter(Boolean).length, 1)
      const revoked = await Promise.all(Array.from({ length: RACERS }, () => roles().revoke(userId, role.id)))
      assert.equal(revoked.filter(Boolean).length, 1)
    })

    it('loads the roles with the user, and a deleted role leaves its users', async (t) => {
      const userId = await someUser(t)
      if (userId === null) return
      const [a, b] = [await roles().insert({ name: name('b') }), await roles().insert({ name: name('a') })]
      await roles().assign(userId, a.id)
      await roles().assign(userId, b.id)
      assert.deepEqual(await rolesOf(userId), [a.name, b.name].sort())
      await roles().delete(a.id)
      assert.deepEqual(await rolesOf(userId), [b.name])
      const users = required(fixture.repos().userRepository, 'userRepository')
      // A user's deletion takes its links along: the role stays, and can be given to a new user.
      await users.delete(userId)
      assert.deepEqual(await roles().findById(b.id), b)
      assert.equal(await roles().revoke(userId, b.id), false)
    })
  })
}

/**
 * Checks a `RoleRepository`: inserts, unique names (one winner of concurrent inserts), look-ups, updates,
 * deletes, and the user-role links (one winner of concurrent assignments). The link tests need a
 * `userRepository` over the same storage; without one they are skipped.
 *
 * @example
 * ```ts
 * import { describeRoleRepositoryConformance } from 'fastify-users/testing'
 *
 * describeRoleRepositoryConformance({
 *   name: 'my roles',
 *   create: async ({ clock }) => ({ repos: { roleRepository: myRoles, userRepository: myUsers(clock) } }),
 * })
 * ```
 */
export function describeRoleRepositoryConformance(
  target: ConformanceTarget<RepositoryPorts & { roleRepository: RoleRepository<Role> }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    roleRepositoryTests(useStorage(target, { before, after }))
  })
}
