/**
 * The order of a refresh token's rotation, which makes concurrent rotations safe on every database: by the
 * time the used token is marked, its successor is already stored, so the family delete of a concurrent
 * loser (which can only fail its compare-and-set after the winner's succeeded) always removes the
 * successor too. Runs on the real SQLite store; the store is only wrapped to look at the table when the
 * token is marked, and to replay the loser's delete at that moment.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type RefreshTokenStore, RefreshTokens } from '../../src/core/refresh-tokens.js'
import type { BaseUser } from '../../src/core/user.js'
import { systemClock } from '../../src/kernel/clock.js'
import { silentLogger } from '../../src/kernel/logger.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'

describe('refresh rotation order (SQLite)', () => {
  let database: TestDatabase<unknown>
  let real: RefreshTokenStore
  let user: BaseUser

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    const repos = createKyselyRepositories(database.db)
    real = repos.refreshTokenStore
    user = await repos.userRepository.insert({ email: 'ada@example.com', passwordHash: 'x' } as never)
  })
  after(() => database.destroy())

  const tokens = (store: RefreshTokenStore, onMark: (hash: string) => Promise<void>) =>
    new RefreshTokens({
      store: {
        insert: (r) => store.insert(r),
        find: (h) => store.find(h),
        markUsed: async (h, at) => {
          const marked = await store.markUsed(h, at)
          if (marked) await onMark(h)
          return marked
        },
        deleteFamily: (f) => store.deleteFamily(f),
        listByUser: (u) => store.listByUser(u),
        deleteExpired: (b) => store.deleteExpired(b),
      },
      users: { findById: async () => user } as never,
      clock: systemClock,
      logger: silentLogger,
      parseId: (id) => id,
      isUsable: () => true,
      notifyReuse: () => undefined,
    })

  it('stores the next token before it marks the used one', async () => {
    let rowsAtMark = 0
    const refresh = tokens(real, async () => {
      rowsAtMark = (await real.listByUser(String(user.id))).length
    })
    const issued = await refresh.issue(user, {})
    const next = await refresh.rotate(issued.token, {})
    assert.ok(next)
    assert.equal(rowsAtMark, 2, 'the successor existed when the used token was marked')
  })

  it('a family ended right after the mark (a concurrent loser) takes the successor with it', async () => {
    let family = ''
    const refresh = tokens(real, async () => {
      // What a losing concurrent rotation does as soon as the winner's mark makes its own fail.
      await real.deleteFamily(family)
    })
    const issued = await refresh.issue(user, {})
    family = issued.familyId
    const next = await refresh.rotate(issued.token, {})
    assert.ok(next, 'the winner still gets its answer')
    assert.equal(await refresh.rotate(next.refresh.token, {}), null, 'its token ended with the family')
    assert.equal((await real.listByUser(String(user.id))).filter((r) => r.familyId === family).length, 0)
  })
})
