/**
 * The login throttle's writes on the hot path: a successful login of an identifier with no failure
 * counted writes no count (one write less per login), while one with failures counted still clears them.
 * Runs on the real SQLite store; the store is only wrapped to count its `clear` calls.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { LoginThrottle, resolveLoginThrottle } from '../../src/core/login-throttle.js'
import type { LoginAttemptStore } from '../../src/core/repositories.js'
import { systemClock } from '../../src/kernel/clock.js'
import { silentLogger } from '../../src/kernel/logger.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'

describe('login throttle writes (SQLite)', () => {
  let database: TestDatabase<unknown>
  let store: LoginAttemptStore
  let clears = 0

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    const real = createKyselyRepositories(database.db).loginAttemptStore
    store = {
      recordFailure: (key, now, windowMs) => real.recordFailure(key, now, windowMs),
      release: (key) => real.release(key),
      failures: (key, now, windowMs) => real.failures(key, now, windowMs),
      deleteExpired: (before) => real.deleteExpired(before),
      clear: (key) => {
        clears++
        return real.clear(key)
      },
    }
  })
  after(() => database.destroy())

  it('writes no count for a success without failures, and clears the count after failures', async () => {
    const throttle = new LoginThrottle(resolveLoginThrottle({})!, store, systemClock, silentLogger)
    const key = throttle.keyOf('ada@example.com')

    const first = await throttle.begin(key, null)
    await first.succeed()
    assert.equal(clears, 0, 'no failure was counted: nothing to clear')

    const wrong = await throttle.begin(key, null)
    await wrong.fail()
    assert.equal((await store.failures(key, Date.now(), 900_000))?.count, 1)

    const right = await throttle.begin(key, null)
    await right.succeed()
    assert.equal(clears, 1)
    assert.equal(await store.failures(key, Date.now(), 900_000), null, 'the success forgot the failure')
  })
})
