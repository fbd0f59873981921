/**
 * The conformance tests of `MailCapStore` (mails per kind and address) and of the `ExclusiveLock` that
 * serialises admin removals: the two stores whose only job is to count or to exclude under concurrency.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ExclusiveLock } from '../core/admin-guard.js'
import type { MailCapStore } from '../core/mail-cap.js'
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

const WINDOW = 3_600_000
const RACERS = 12

/** Registers the mail-cap tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function mailCapStoreTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): MailCapStore => required(fixture.repos().mailCapStore, 'mailCapStore')
  const now = (): number => fixture.clock.now()

  describe('MailCapStore', () => {
    it('counts the mails of one key, independently of other keys', async () => {
      const [key, other] = [digestKey(), digestKey()]
      assert.equal(await store().hit(key, now(), WINDOW), 1)
      assert.equal(await store().hit(key, now() + 1, WINDOW), 2)
      assert.equal(await store().hit(other, now() + 2, WINDOW), 1)
      assert.equal(await store().hit(key, now() + 3, WINDOW), 3)
    })

    it('counts N concurrent mails as exactly N', async () => {
      const key = digestKey()
      const counts = await Promise.all(Array.from({ length: RACERS }, () => store().hit(key, now(), WINDOW)))
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: RACERS }, (_, i) => i + 1),
      )
    })

    it('keeps a window from its first mail for windowMs, then starts again at 1', async () => {
      const key = digestKey()
      const start = now()
      assert.equal(await store().hit(key, start, WINDOW), 1)
      // Later mails do not move the window's start.
      assert.equal(await store().hit(key, start + WINDOW / 2, WINDOW), 2)
      assert.equal(await store().hit(key, start + WINDOW - 1, WINDOW), 3)
      assert.equal(await store().hit(key, start + WINDOW, WINDOW), 1)
      assert.equal(await store().hit(key, start + WINDOW + 1, WINDOW), 2)
    })

    it('sweeps the windows that started at or before the given time, counting them', async () => {
      const [gone1, gone2, boundary, live] = [digestKey(), digestKey(), digestKey(), digestKey()]
      await store().hit(gone1, LONG_AGO, WINDOW)
      await store().hit(gone2, LONG_AGO + 1000, WINDOW)
      // The service sweeps with `now - windowMs`: a window that started exactly then has ended for `hit` too.
      await store().hit(boundary, LONG_AGO + 2000, WINDOW)
      const start = now()
      await store().hit(live, start, WINDOW)
      assertSwept(fixture, await store().deleteExpired(LONG_AGO + 2000), 3)
      assert.equal(await store().hit(live, start + 1, WINDOW), 2)
    })
  })
}

/** Registers the lock tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function exclusiveLockTests(fixture: Fixture<RepositoryPorts>): void {
  const lock = (): ExclusiveLock => required(fixture.repos().adminLock, 'adminLock')
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 2))

  describe('ExclusiveLock', () => {
    it('runs one function at a time and returns what each returns', async () => {
      let inside = 0
      let most = 0
      const order: number[] = []
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          lock().runExclusive(async () => {
            inside += 1
            most = Math.max(most, inside)
            await pause()
            order.push(i)
            inside -= 1
            return i * 10
          }),
        ),
      )
      assert.equal(most, 1, 'two functions ran inside the lock at once')
      assert.deepEqual(results, [0, 10, 20, 30, 40, 50])
      assert.equal(order.length, 6)
    })

    it('passes a failure on and releases the lock', async () => {
      const failure = new Error('inside the lock')
      await assert.rejects(
        lock().runExclusive(async () => {
          throw failure
        }),
        (err) => err === failure,
      )
      assert.equal(await lock().runExclusive(async () => 'free again'), 'free again')
    })
  })
}

/**
 * Checks a `MailCapStore`: counting per key, exactly N of N concurrent mails, a fixed window from the
 * first mail, and the sweep of old windows.
 *
 * @example
 * ```ts
 * import { describeMailCapStoreConformance } from 'fastify-users/testing'
 *
 * describeMailCapStoreConformance({
 *   name: 'mail caps in Redis',
 *   create: async () => ({ repos: { mailCapStore: new RedisMailCaps(redis, prefix) }, cleanup }),
 * })
 * ```
 */
export function describeMailCapStoreConformance(
  target: ConformanceTarget<RepositoryPorts & { mailCapStore: MailCapStore }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    mailCapStoreTests(useStorage(target, { before, after }))
  })
}

/**
 * Checks an `ExclusiveLock` (the service's `adminLock`): mutual exclusion of concurrent callers, results
 * passed back, and release after a failure.
 *
 * @example
 * ```ts
 * import { describeExclusiveLockConformance } from 'fastify-users/testing'
 *
 * describeExclusiveLockConformance({
 *   name: 'admin lock in Redis',
 *   create: async () => ({ repos: { adminLock: new RedisLock(redis, 'admin') }, cleanup }),
 * })
 * ```
 */
export function describeExclusiveLockConformance(
  target: ConformanceTarget<RepositoryPorts & { adminLock: ExclusiveLock }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    exclusiveLockTests(useStorage(target, { before, after }))
  })
}
