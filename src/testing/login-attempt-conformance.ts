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
  LONG_AGO,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

const WINDOW = 15 * 60_000
const RACERS = 12

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

    // `reserve` is optional; a store that has it must answer as `recordFailure` then `failures` do.
    const reserveTest = (name: string, test: (reserve: Reserve) => Promise<void>) =>
      it(name, async (t) => {
        const reserve = store().reserve?.bind(store())
        if (!reserve) return t.skip('this store has no reserve()')
        await test(reserve)
      })

    reserveTest(
      'reserve counts one more in flight and reads the failures of the other key',
      async (reserve) => {
        const [pending, key] = [digestKey(), digestKey()]
        const start = now()
        assert.deepEqual(await reserve(pending, key, start, WINDOW, WINDOW), { inFlight: 1, failures: null })
        await store().recordFailure(key, start + 1000, WINDOW)
        await store().recordFailure(key, start + 2000, WINDOW)
        assert.deepEqual(await reserve(pending, key, start + 3000, WINDOW, WINDOW), {
          inFlight: 2,
          failures: { count: 2, lastFailureAt: start + 2000 },
        })
        assert.equal((await store().failures(pending, start + 3000, WINDOW))?.count, 2)
        assert.equal((await store().failures(key, start + 3000, WINDOW))?.count, 2, 'the read counts nothing')
        // Each part keeps its own window: the in-flight count restarts, the failures are out of theirs.
        const late = start + 2000 + WINDOW + 1
        assert.deepEqual(await reserve(pending, key, late, 1000, WINDOW), { inFlight: 1, failures: null })
        await store().release(pending)
        assert.equal((await store().failures(pending, late, WINDOW))?.count ?? 0, 0, 'released as usual')
      },
    )

    reserveTest('reserves N concurrent attempts as exactly N, each reading the failures', async (reserve) => {
      const [pending, key] = [digestKey(), digestKey()]
      await store().recordFailure(key, now(), WINDOW)
      const answers = await Promise.all(
        Array.from({ length: RACERS }, () => reserve(pending, key, now(), WINDOW, WINDOW)),
      )
      assert.deepEqual(
        answers.map((a) => a.inFlight).sort((a, b) => a - b),
        Array.from({ length: RACERS }, (_, i) => i + 1),
      )
      for (const answer of answers) assert.equal(answer.failures?.count, 1)
      assert.equal((await store().failures(pending, now(), WINDOW))?.count, RACERS)
    })

    reserveTest('loses no count among concurrent reservations, failures and releases', async (reserve) => {
      // Racers that each record a failure and give their reservation back, against readers that reserve:
      // whichever way they interleave, every count and every release is kept.
      const [pending, key] = [digestKey(), digestKey()]
      const racers = Array.from({ length: RACERS }, async () => {
        await store().recordFailure(pending, now(), WINDOW)
        await store().recordFailure(key, now(), WINDOW)
        await store().release(pending)
      })
      const readers = Array.from({ length: RACERS }, async () => {
        const answer = await reserve(pending, key, now(), WINDOW, WINDOW)
        await store().release(pending)
        return answer
      })
      const answers = await Promise.all([...readers, ...racers])
      for (const answer of answers) {
        if (!answer) continue
        // In flight: the reader itself, and racers not yet ended; readers are at most all of them.
        assert.ok(answer.inFlight >= 1 && answer.inFlight <= 2 * RACERS)
        assert.ok((answer.failures?.count ?? 0) <= RACERS)
      }
      assert.equal((await store().failures(key, now(), WINDOW))?.count, RACERS)
      assert.equal((await store().failures(pending, now(), WINDOW))?.count ?? 0, 0)
    })
  })
}

type Reserve = NonNullable<LoginAttemptStore['reserve']>

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
