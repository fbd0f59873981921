/**
 * The conformance tests of `SessionRepository` and `TokenDenylist`: the stores that decide whether a
 * credential still counts, so a wrong answer here is a revocation that does not happen.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { SessionRecord, SessionRepository, TokenDenylist } from '../core/repositories.js'
import type { Id } from '../core/user.js'
import {
  assertSwept,
  type ConformanceTarget,
  digestKey,
  type Fixture,
  LONG_AGO,
  type RepositoryPorts,
  required,
  someUserId,
  useStorage,
} from './conformance-target.js'

const HOUR = 3_600_000

/** Registers the session tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function sessionRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  let serial = 0
  const sessions = (): SessionRepository => required(fixture.repos().sessionRepository, 'sessionRepository')
  const userId = (): Promise<Id> => {
    serial += 1
    return someUserId(fixture.repos(), `session.${serial}.${fixture.tag}@conformance.test`)
  }
  const record = (owner: Id, overrides: Partial<SessionRecord> = {}): SessionRecord => {
    const now = fixture.clock.now()
    return {
      id: digestKey(),
      userId: owner,
      authVersion: 0,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 24 * HOUR,
      ip: '203.0.113.7',
      userAgent: 'conformance/1.0',
      ...overrides,
    }
  }

  describe('SessionRepository', () => {
    it('creates a session and finds it as it was stored', async () => {
      const owner = await userId()
      const session = record(owner, { authVersion: 3 })
      await sessions().create(session)
      assert.deepEqual(await sessions().find(session.id), session)
      const bare = record(owner, { ip: null, userAgent: null })
      await sessions().create(bare)
      assert.deepEqual(await sessions().find(bare.id), bare)
    })

    it('answers null for an unknown id', async () => {
      assert.equal(await sessions().find(digestKey()), null)
    })

    it('touches the last activity and nothing else', async () => {
      const session = record(await userId())
      await sessions().create(session)
      await sessions().touch(session.id, session.lastSeenAt + 5000)
      assert.deepEqual(await sessions().find(session.id), {
        ...session,
        lastSeenAt: session.lastSeenAt + 5000,
      })
      await sessions().touch(digestKey(), session.lastSeenAt) // an unknown id is not an error
    })

    it('deletes a session once: true, then false', async () => {
      const session = record(await userId())
      await sessions().create(session)
      assert.equal(await sessions().delete(session.id), true)
      assert.equal(await sessions().find(session.id), null)
      assert.equal(await sessions().delete(session.id), false)
    })

    it("ends every session of one user and no other user's", async () => {
      const [ada, bob] = [await userId(), await userId()]
      const mine = [record(ada), record(ada), record(ada)]
      const theirs = record(bob)
      for (const s of [...mine, theirs]) await sessions().create(s)
      assert.equal(await sessions().deleteForUser(ada), 3)
      for (const s of mine) assert.equal(await sessions().find(s.id), null)
      assert.deepEqual(await sessions().find(theirs.id), theirs)
      assert.equal(await sessions().deleteForUser(ada), 0)
    })

    it("lists one user's sessions as stored, and no other user's", async () => {
      const [ada, bob, eve] = [await userId(), await userId(), await userId()]
      const mine = [record(ada, { ip: null, userAgent: null }), record(ada, { authVersion: 2 })]
      const theirs = record(bob)
      for (const s of [...mine, theirs]) await sessions().create(s)
      const listed = await sessions().listForUser(ada)
      const byId = (a: SessionRecord, b: SessionRecord) => a.id.localeCompare(b.id)
      assert.deepEqual([...listed].sort(byId), [...mine].sort(byId))
      assert.deepEqual(await sessions().listForUser(bob), [theirs])
      assert.deepEqual(await sessions().listForUser(eve), [])
    })

    it('sweeps the sessions whose end is before now, counting them; one ending now stays', async () => {
      const owner = await userId()
      const old = (expiresAt: number) =>
        record(owner, { createdAt: LONG_AGO, lastSeenAt: LONG_AGO, expiresAt: LONG_AGO + expiresAt })
      const expired = [old(HOUR), old(2 * HOUR)]
      const endingNow = old(3 * HOUR)
      const live = record(owner)
      for (const s of [...expired, endingNow, live]) await sessions().create(s)
      assertSwept(fixture, await sessions().deleteExpired(LONG_AGO + 3 * HOUR), expired.length)
      if (!fixture.selfExpiring) {
        for (const s of expired) assert.equal(await sessions().find(s.id), null)
        assert.deepEqual(await sessions().find(endingNow.id), endingNow)
      }
      assert.deepEqual(await sessions().find(live.id), live)
      assertSwept(fixture, await sessions().deleteExpired(LONG_AGO + 3 * HOUR), 0)
    })
  })
}

/** Registers the deny-list tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function tokenDenylistTests(fixture: Fixture<RepositoryPorts>): void {
  const denylist = (): TokenDenylist => required(fixture.repos().tokenDenylist, 'tokenDenylist')
  const jti = (): string => `${fixture.tag}-${digestKey().slice(0, 24)}`

  describe('TokenDenylist', () => {
    it('denies an added token id, and only that one', async () => {
      const id = jti()
      assert.equal(await denylist().has(id), false)
      await denylist().add(id, fixture.clock.now() + HOUR)
      assert.equal(await denylist().has(id), true)
      assert.equal(await denylist().has(jti()), false)
    })

    it('takes the same token id twice, and concurrently, without an error', async () => {
      const id = jti()
      await denylist().add(id, fixture.clock.now() + HOUR)
      await denylist().add(id, fixture.clock.now() + HOUR)
      await Promise.all(Array.from({ length: 8 }, () => denylist().add(id, fixture.clock.now() + HOUR)))
      assert.equal(await denylist().has(id), true)
    })

    it('forgets the entries of expired tokens, counting them, and keeps the others', async () => {
      const [gone1, gone2, kept] = [jti(), jti(), jti()]
      await denylist().add(gone1, LONG_AGO + HOUR)
      await denylist().add(gone2, LONG_AGO + 2 * HOUR)
      await denylist().add(kept, fixture.clock.now() + HOUR)
      assertSwept(fixture, await denylist().deleteExpired(LONG_AGO + 3 * HOUR), 2)
      if (!fixture.selfExpiring) {
        assert.equal(await denylist().has(gone1), false)
        assert.equal(await denylist().has(gone2), false)
      }
      assert.equal(await denylist().has(kept), true)
    })
  })
}

/**
 * Checks a `SessionRepository`: create and find (every field as stored), touch, delete, the end of every
 * session of one user, and the sweep of expired sessions. Sessions point at users: give a
 * `userRepository` when your storage checks that reference (SQL does); otherwise random ids are used.
 *
 * @example
 * ```ts
 * import { describeSessionRepositoryConformance } from 'fastify-users/testing'
 *
 * describeSessionRepositoryConformance({
 *   name: 'sessions in Redis',
 *   create: async () => ({ repos: { sessionRepository: new RedisSessions(redis, prefix) }, cleanup }),
 * })
 * ```
 */
export function describeSessionRepositoryConformance(
  target: ConformanceTarget<RepositoryPorts & { sessionRepository: SessionRepository }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    sessionRepositoryTests(useStorage(target, { before, after }))
  })
}

/**
 * Checks a `TokenDenylist` (the JWT logout list): add, has, repeated adds, and the sweep of expired entries.
 *
 * @example
 * ```ts
 * import { describeTokenDenylistConformance } from 'fastify-users/testing'
 *
 * describeTokenDenylistConformance({
 *   name: 'deny-list in Redis',
 *   create: async () => ({ repos: { tokenDenylist: new RedisDenylist(redis, prefix) }, cleanup }),
 * })
 * ```
 */
export function describeTokenDenylistConformance(
  target: ConformanceTarget<RepositoryPorts & { tokenDenylist: TokenDenylist }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    tokenDenylistTests(useStorage(target, { before, after }))
  })
}
