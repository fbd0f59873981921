/**
 * The conformance tests of `RefreshTokenStore`: the refresh tokens of the JWT backends, whose rotation
 * rests on one rule: of two concurrent `markUsed` calls on a fresh token, exactly one wins.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { RefreshTokenRecord, RefreshTokenStore } from '../core/refresh-tokens.js'
import {
  assertSwept,
  type ConformanceTarget,
  digestKey,
  type Fixture,
  LONG_AGO,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

const RACERS = 12
const DAY = 86_400_000

function record(now: number, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return {
    tokenHash: digestKey(),
    familyId: randomUUID(),
    userId: randomUUID(),
    authVersion: 3,
    issuedAt: now,
    expiresAt: now + DAY,
    familyCreatedAt: now,
    familyExpiresAt: now + 30 * DAY,
    usedAt: null,
    ip: '203.0.113.7',
    userAgent: 'conformance/1.0',
    ...overrides,
  }
}

/** Registers the refresh-token tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function refreshTokenStoreTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): RefreshTokenStore => required(fixture.repos().refreshTokenStore, 'refreshTokenStore')
  const now = (): number => fixture.clock.now()

  describe('RefreshTokenStore', () => {
    it('stores a token and finds it by its hash, every field intact; an unknown hash is null', async () => {
      const token = record(now(), { ip: null, userAgent: null })
      await store().insert(token)
      assert.deepEqual(await store().find(token.tokenHash), token)
      const full = record(now())
      await store().insert(full)
      assert.deepEqual(await store().find(full.tokenHash), full)
      assert.equal(await store().find(digestKey()), null)
    })

    it('marks a fresh token used once: the second call, and a call on an unknown hash, answer false', async () => {
      const token = record(now())
      await store().insert(token)
      assert.equal(await store().markUsed(token.tokenHash, now() + 5), true)
      assert.equal(await store().markUsed(token.tokenHash, now() + 6), false)
      assert.equal((await store().find(token.tokenHash))?.usedAt, now() + 5)
      assert.equal(await store().markUsed(digestKey(), now()), false)
    })

    it('lets exactly one of N concurrent markUsed calls win', async () => {
      const token = record(now())
      await store().insert(token)
      const wins = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => store().markUsed(token.tokenHash, now() + i)),
      )
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one rotation wins')
    })

    it('deletes a whole family and nothing else, counting the tokens', async () => {
      const first = record(now())
      const second = record(now() + 1, { familyId: first.familyId, userId: first.userId, usedAt: null })
      const other = record(now(), { userId: first.userId })
      for (const token of [first, second, other]) await store().insert(token)
      await store().markUsed(first.tokenHash, now() + 1)
      assert.equal(await store().deleteFamily(first.familyId), 2)
      assert.equal(await store().find(first.tokenHash), null)
      assert.equal(await store().find(second.tokenHash), null)
      assert.deepEqual(await store().find(other.tokenHash), other)
      assert.equal(await store().deleteFamily(first.familyId), 0)
    })

    it("lists a user's tokens and no one else's", async () => {
      const mine = record(now())
      const mineToo = record(now() + 1, { userId: mine.userId })
      const theirs = record(now())
      for (const token of [mine, mineToo, theirs]) await store().insert(token)
      const listed = await store().listByUser(mine.userId)
      assert.deepEqual(listed.map((r) => r.tokenHash).sort(), [mine.tokenHash, mineToo.tokenHash].sort())
      assert.deepEqual(await store().listByUser(randomUUID()), [])
    })

    it('sweeps the tokens whose family ended at or before the given time, counting them', async () => {
      const gone = record(LONG_AGO, { familyExpiresAt: LONG_AGO + 1000 })
      const boundary = record(LONG_AGO, { familyExpiresAt: LONG_AGO + 2000 })
      const live = record(LONG_AGO, { familyExpiresAt: LONG_AGO + 3000 })
      for (const token of [gone, boundary, live]) await store().insert(token)
      assertSwept(fixture, await store().deleteExpired(LONG_AGO + 2000), 2)
      assert.equal(await store().find(gone.tokenHash), null)
      assert.deepEqual(await store().find(live.tokenHash), live)
    })
  })
}

/**
 * Checks a `RefreshTokenStore`: storage by hash, single use under concurrency (exactly one of N
 * concurrent rotations wins), deletion of a family, listing per user, and the sweep of ended families.
 *
 * @example
 * ```ts
 * import { describeRefreshTokenStoreConformance } from 'fastify-users/testing'
 *
 * describeRefreshTokenStoreConformance({
 *   name: 'refresh tokens in Redis',
 *   create: async () => ({ repos: { refreshTokenStore: new RedisRefreshTokens(redis) }, cleanup }),
 * })
 * ```
 */
export function describeRefreshTokenStoreConformance(
  target: ConformanceTarget<RepositoryPorts & { refreshTokenStore: RefreshTokenStore }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    refreshTokenStoreTests(useStorage(target, { before, after }))
  })
}
