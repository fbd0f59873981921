/**
 * The login throttle's reservation on PostgreSQL, where `reserve` counts the attempt in flight and reads the
 * failures in one statement: an attempt that records its failure and gives its reservation back while that
 * statement waits for the pending row must still be seen, in flight or as a failure. One statement reads
 * with the snapshot it started with, so without its guard it would see neither. Also: the throttle over
 * this store holds a burst of parallel wrong passwords to the free attempts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Kysely, sql } from 'kysely'
import { LoginThrottle, resolveLoginThrottle } from '../../src/core/login-throttle.js'
import { systemClock } from '../../src/kernel/clock.js'
import { TooManyAttemptsError } from '../../src/kernel/errors.js'
import { silentLogger } from '../../src/kernel/logger.js'
import type { DynamicDb } from '../../src/persistence/kysely/database.js'
import { KyselyLoginAttemptStore, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'

const WINDOW = 15 * 60_000
const key = () => randomBytes(32).toString('hex')

/** Waits until a statement of this database waits for a row lock. */
async function someoneWaitsForALock(db: Kysely<unknown>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await sql<{ n: string | number }>`select count(*) as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`.execute(db)
    if (Number(rows[0]?.n) > 0) return
    await sleep(10)
  }
  throw new Error('no statement ever waited for the lock')
}

for (const { name, skip } of testDialects.filter((d) => d.name === 'postgres')) {
  describe(`login attempt reservation (${name})`, { skip }, () => {
    let database: TestDatabase<unknown>
    let store: KyselyLoginAttemptStore

    before(async () => {
      database = await createTestDatabase(name)
      await migrateToLatest(database.db)
      store = new KyselyLoginAttemptStore(database.db as unknown as DynamicDb)
    })
    after(() => database.destroy())

    it('sees a failure recorded, and a reservation given back, while it waited for the pending row', async () => {
      const [pending, failures] = [key(), key()]
      const now = Date.now()
      await store.recordFailure(failures, now, WINDOW)
      await store.recordFailure(failures, now, WINDOW)
      assert.equal(await store.recordFailure(pending, now, 60_000), 1, 'another attempt is in flight')

      let reserving: ReturnType<KyselyLoginAttemptStore['reserve']> | undefined
      await database.db.transaction().execute(async (trx) => {
        // That attempt ends with a wrong password: its failure, then its reservation given back (one
        // transaction here, so that the reservation below surely starts in between and waits).
        const ending = new KyselyLoginAttemptStore(trx as unknown as DynamicDb)
        await ending.recordFailure(failures, now, WINDOW)
        await ending.release(pending)
        reserving = store.reserve(pending, failures, now, 60_000, WINDOW)
        // Awaited after the commit: it waits for this transaction's row lock.
        reserving.catch(() => {})
        await someoneWaitsForALock(database.db)
      })
      assert.ok(reserving)
      const answer = await reserving
      assert.equal(answer.inFlight, 1, 'the ended attempt is no longer in flight')
      assert.deepEqual(answer.failures, { count: 3, lastFailureAt: now }, 'so its failure is seen')
      assert.equal((await store.failures(pending, now, 60_000))?.count, 1, 'counted once')
    })

    it('answers the count and the failures when nothing else writes the pending row', async () => {
      const [pending, failures] = [key(), key()]
      const now = Date.now()
      await store.recordFailure(pending, now, 60_000)
      await store.release(pending)
      await store.recordFailure(failures, now, WINDOW)
      assert.deepEqual(await store.reserve(pending, failures, now, 60_000, WINDOW), {
        inFlight: 1,
        failures: { count: 1, lastFailureAt: now },
      })
    })

    it('lets a burst of parallel wrong passwords through to no more hashes than the free attempts', async () => {
      const throttle = new LoginThrottle(
        resolveLoginThrottle({ freeAttempts: 3, maxDelaySeconds: 600 })!,
        store,
        systemClock,
        silentLogger,
      )
      const id = throttle.keyOf(`burst.${key().slice(0, 8)}@example.com`)
      let hashing = 0
      let hashes = 0
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, async () => {
          const attempt = await throttle.begin(id, null)
          try {
            hashing++
            hashes++
            assert.ok(hashing <= 3, 'no more in flight than the free attempts')
            await sleep(30) // the hash
            hashing--
            await attempt.fail()
          } finally {
            await attempt.abandon()
          }
        }),
      )
      assert.equal(hashes, 3)
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof TooManyAttemptsError)
      }
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 3)
    })
  })
}
