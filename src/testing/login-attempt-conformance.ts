/**
 * The conformance tests of `LoginAttemptStore`: the counters of login throttling. A lost increment lets
 * a guesser try more passwords than the limit; a count that never ends locks an owner out.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LoginAttemptStore } from '../core/repositories.js'
import {
  assertSwept,
  type ConformanceTarget,
  digestKey,
  type Fixture,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

const WINDOW = 15 * 60_000
const RACERS = 12
/** The sweep test's times: long before every other test's (see session-conformance.ts). */
const LONG_AGO = Date.UTC(2001, 0, 1)

/** Registers the login-attempt tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function loginAttemptStoreTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): LoginAttemptStore => required(fixture.repos().loginAttemptStore, 'loginAttemptStore')
  const now = (): number => fixture.clock.now()

  describe('LoginAttemptStore', () => {
    it('counts consecutive failures and reports the count and the last time', async () => {
      const key = digestKey()
      assert.equal(await store().failures(key, now(), WINDOW), null)
      const start = now()
      assert.equal(await store().recordFailure(key, start, WINDOW), 1)
      assert.equal(await store().recordFailure(key, start + 1000, WINDOW), 2)
      assert.equal(await store().recordFailure(key, start + 2000, WINDOW), 3)
      assert.deepEqual(await store().failures(key, start + 3000, WINDOW), {
        count: 3,
        lastFailureAt: start + 2000,
      })
      assert.equal(await store().failures(digestKey(), start + 3000, WINDOW), null, 'keys are independent')
    })

    it('counts N concurrent failures as exactly N', async () => {
      const key = digestKey()
      const counts = await Promise.all(
        Array.from({ length: RACERS }, () => store().recordFailure(key, now(), WINDOW)),
      )
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: RACERS }, (_, i) => i + 1),
      )
      assert.equal((await store().failures(key, now(), WINDOW))?.count, RACERS)
    })

    it('starts again after a window without failures; a failure exactly a window old still counts', async () => {
      const key = digestKey()
      const start = now()
      await store().recordFailure(key, start, WINDOW)
      assert.equal(await store().recordFailure(key, start + WINDOW, WINDOW), 2, 'exactly one window later')
      assert.equal((await store().failures(key, start + 2 * WINDOW, WINDOW))?.count, 2)
      assert.equal(await store().failures(key, start + 2 * WINDOW + 1, WINDOW), null)
      assert.equal(await store().recordFailure(key, start + 2 * WINDOW + 1, WINDOW), 1)
    })

    it('releases one count at a time, never below zero, and nothing for an unknown key', async () => {
      const key = digestKey()
      await store().recordFailure(key, now(), WINDOW)
      await store().recordFailure(key, now(), WINDOW)
      await store().release(key)
      assert.equal((await store().failures(key, now(), WINDOW))?.count, 1)
      await store().release(key)
      await store().release(key)
      assert.equal((await store().failures(key, now(), WINDOW))?.count ?? 0, 0)
      assert.equal(await store().recordFailure(key, now(), WINDOW), 1)
      const unknown = digestKey()
      await store().release(unknown)
      assert.equal(await store().failures(unknown, now(), WINDOW), null)
    })

    it('releases concurrently without losing a decrement', async () => {
      const key = digestKey()
      for (let i = 0; i < RACERS; i += 1) await store().recordFailure(key, now(), WINDOW)
      await Promise.all(Array.from({ length: RACERS - 2 }, () => store().release(key)))
      assert.equal((await store().failures(key, now(), WINDOW))?.count, 2)
    })

    it('clears every failure of a key and no other key', async () => {
      const [key, other] = [digestKey(), digestKey()]
      await store().recordFailure(key, now(), WINDOW)
      await store().recordFailure(other, now(), WINDOW)
      await store().clear(key)
      assert.equal(await store().failures(key, now(), WINDOW), null)
      assert.equal((await store().failures(other, now(), WINDOW))?.count, 1)
      await store().clear(digestKey()) // an unknown key is not an error
      assert.equal(await store().recordFailure(key, now(), WINDOW), 1)
    })

    it('sweeps the entries whose last failure is before the given time, counting them', async () => {
      const [gone1, gone2, boundary, live] = [digestKey(), digestKey(), digestKey(), digestKey()]
      await store().recordFailure(gone1, LONG_AGO, WINDOW)
      await store().recordFailure(gone2, LONG_AGO + 1000, WINDOW)
      await store().recordFailure(boundary, LONG_AGO + 2000, WINDOW)
      await store().recordFailure(live, now(), WINDOW)
      const atBoundary = await store().failures(boundary, LONG_AGO + 2000, WINDOW)
      assertSwept(fixture, await store().deleteExpired(LONG_AGO + 2000), 2)
      if (!fixture.selfExpiring) {
        assert.equal(await store().failures(gone1, LONG_AGO + 1000, WINDOW), null)
        assert.equal(await store().failures(gone2, LONG_AGO + 1000, WINDOW), null)
      }
      // A failure exactly at the given time is not before it.
      assert.deepEqual(await store().failures(boundary, LONG_AGO + 2000, WINDOW), atBoundary)
      assert.equal((await store().failures(live, now(), WINDOW))?.count, 1)
    })
  })
}

/**
 * Checks a `LoginAttemptStore`: counting, exactly N of N concurrent failures, the window and its boundary,
 * release (never below zero), clear, and the sweep of old entries.
 *
 * @example
 * ```ts
 * import { describeLoginAttemptStoreConformance } from 'fastify-users/testing'
 *
 * describeLoginAttemptStoreConformance({
 *   name: 'login throttle in Redis',
 *   create: async () => ({ repos: { loginAttemptStore: new RedisAttempts(redis, prefix) }, cleanup }),
 * })
 * ```
 */
export function describeLoginAttemptStoreConformance(
  target: ConformanceTarget<RepositoryPorts & { loginAttemptStore: LoginAttemptStore }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    loginAttemptStoreTests(useStorage(target, { before, after }))
  })
}
