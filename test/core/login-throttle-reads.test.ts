/**
 * The login throttle's reads on the hot path: one read of the failure count per attempt, whether the
 * attempt goes on to a password check or is refused for coming too early; a refused attempt still
 * counts no failure and leaves no reservation behind. Runs on the real SQLite store; the store is only
 * wrapped to count its `failures` calls.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { LoginThrottle, resolveLoginThrottle } from '../../src/core/login-throttle.js'
import type { LoginAttemptStore } from '../../src/core/repositories.js'
import { systemClock } from '../../src/kernel/clock.js'
import { TooManyAttemptsError } from '../../src/kernel/errors.js'
import { silentLogger } from '../../src/kernel/logger.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'

describe('login throttle reads (SQLite)', () => {
  let database: TestDatabase<unknown>
  let store: LoginAttemptStore
  let real: LoginAttemptStore
  let reads = 0

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    real = createKyselyRepositories(database.db).loginAttemptStore
    store = {
      recordFailure: (key, now, windowMs) => real.recordFailure(key, now, windowMs),
      release: (key) => real.release(key),
      failures: (key, now, windowMs) => {
        reads++
        return real.failures(key, now, windowMs)
      },
      deleteExpired: (before) => real.deleteExpired(before),
      clear: (key) => real.clear(key),
    }
  })
  beforeEach(() => {
    reads = 0
  })
  after(() => database.destroy())

  it('reads the count once for a login that succeeds, and once for one that fails', async () => {
    const throttle = new LoginThrottle(resolveLoginThrottle({})!, store, systemClock, silentLogger)
    const key = throttle.keyOf('ada@example.com')

    const right = await throttle.begin(key, null)
    await right.succeed()
    assert.equal(reads, 1, 'one read for a successful login with nothing counted')

    reads = 0
    const wrong = await throttle.begin(key, null)
    await wrong.fail()
    assert.equal(reads, 1, 'one read for a failed login')
    assert.equal((await real.failures(key, Date.now(), 900_000))?.count, 1)
  })

  it('refuses a throttled identifier on its one read, counts nothing and keeps no reservation', async () => {
    const throttle = new LoginThrottle(
      resolveLoginThrottle({ freeAttempts: 2, maxDelaySeconds: 600 })!,
      store,
      systemClock,
      silentLogger,
    )
    const key = throttle.keyOf('grace@example.com')
    for (let i = 0; i < 2; i++) await (await throttle.begin(key, null)).fail()
    const counted = (await real.failures(key, Date.now(), 900_000))?.count
    assert.equal(counted, 2)

    reads = 0
    for (let i = 0; i < 3; i++) {
      await assert.rejects(throttle.begin(key, null), TooManyAttemptsError)
    }
    assert.equal(reads, 3, 'one read per refused attempt')
    assert.equal((await real.failures(key, Date.now(), 900_000))?.count, 2, 'refusals are not counted')

    // Every refused attempt gave its reservation back: once the failures are forgotten (a password
    // reset), the free attempts are all there again, in parallel.
    await throttle.clear(['grace@example.com'])
    const parallel = await Promise.all([throttle.begin(key, null), throttle.begin(key, null)])
    for (const attempt of parallel) await attempt.succeed()
  })

  it("uses a store's reserve() in place of the count and the read, and refuses on its answer", async () => {
    const calls: string[] = []
    const reserving: LoginAttemptStore = {
      ...store,
      recordFailure: (key, now, windowMs) => {
        calls.push('recordFailure')
        return real.recordFailure(key, now, windowMs)
      },
      failures: (key, now, windowMs) => {
        calls.push('failures')
        return real.failures(key, now, windowMs)
      },
      reserve: (pendingKey, key, now, inFlightWindowMs, windowMs) => {
        calls.push('reserve')
        return real.reserve!(pendingKey, key, now, inFlightWindowMs, windowMs)
      },
    }
    const throttle = new LoginThrottle(
      resolveLoginThrottle({ freeAttempts: 2, maxDelaySeconds: 600 })!,
      reserving,
      systemClock,
      silentLogger,
    )
    const key = throttle.keyOf('hopper@example.com')
    await (await throttle.begin(key, null)).succeed()
    assert.deepEqual(calls, ['reserve'], 'one call before the hash of a login')
    for (let i = 0; i < 2; i++) await (await throttle.begin(key, null)).fail()
    calls.length = 0
    await assert.rejects(throttle.begin(key, null), TooManyAttemptsError)
    assert.deepEqual(calls, ['reserve'], 'refused on the answer of reserve()')
    // The refused attempt gave its reservation back: cleared, both free attempts go on in parallel.
    await throttle.clear(['hopper@example.com'])
    const parallel = await Promise.all([throttle.begin(key, null), throttle.begin(key, null)])
    for (const attempt of parallel) await attempt.succeed()
  })
})
