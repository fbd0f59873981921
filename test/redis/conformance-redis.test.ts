/**
 * The storage conformance suite on Redis: sessions, the deny-list, login attempts, mail caps and the admin
 * lock, under a key prefix of this run only (deleted afterwards). Every key the suite leaves has a TTL.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createRedisStores, RedisExclusiveLock } from '../../src/persistence/redis/index.js'
import { describeRepositoryConformance } from '../../src/testing/index.js'
import { redisTestUrl, testRedis } from '../helpers/databases.js'
import { keysUnder, sessionRecord } from './keys.js'

const prefix = `fu-test-${randomBytes(6).toString('hex')}:`
let client: Redis | undefined

async function connect(): Promise<Redis> {
  client ??= new Redis(redisTestUrl() as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
  if (client.status === 'wait') await client.connect()
  return client
}

describeRepositoryConformance({
  name: 'Redis stores',
  ports: ['sessionRepository', 'tokenDenylist', 'loginAttemptStore', 'mailCapStore', 'adminLock'],
  selfExpiring: true,
  skip: testRedis.skip,
  create: async ({ clock }) => {
    const redis = await connect()
    return { repos: createRedisStores(redis, { prefix, now: () => clock.now() }) }
  },
})

describe('Redis stores: expiry, bounds, and the lock across instances', { skip: testRedis.skip }, () => {
  after(async () => {
    if (!client) return
    const keys = await keysUnder(client, prefix)
    if (keys.length > 0) await client.del(...keys)
    await client.quit()
  })

  it('leaves no key without a time to live', async () => {
    const redis = await connect()
    const stores = createRedisStores(redis, { prefix })
    const now = Date.now()
    await stores.sessionRepository.create(sessionRecord(randomBytes(32).toString('hex'), 'ttl-user', now))
    await stores.tokenDenylist.add('ttl-jti', now + 60_000)
    await stores.loginAttemptStore.recordFailure('ttl-key', now, 60_000)
    await stores.mailCapStore.hit('ttl-key', now, 60_000)
    const keys = await keysUnder(redis, prefix)
    assert.ok(keys.length >= 5, `expected the keys of this file, got ${keys.length}`)
    for (const key of keys) {
      const ttl = await redis.pttl(key)
      assert.ok(ttl > 0, `${key} has no time to live (${ttl})`)
    }
  })

  it('bounds the sessions of one user, ending the oldest', async () => {
    const redis = await connect()
    const stores = createRedisStores(redis, { prefix: `${prefix}cap:`, maxSessionsPerUser: 3 })
    const now = Date.now()
    const ids = Array.from({ length: 5 }, () => randomBytes(32).toString('hex'))
    for (const [i, id] of ids.entries()) {
      await stores.sessionRepository.create({
        id,
        userId: 7,
        authVersion: 0,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 60_000 + i,
        ip: null,
        userAgent: null,
      })
    }
    assert.equal(await redis.zcard(`${prefix}cap:user-sessions:7`), 3)
    assert.equal(await stores.sessionRepository.find(ids[0] as string), null)
    assert.notEqual(await stores.sessionRepository.find(ids[4] as string), null)
    assert.equal(await stores.sessionRepository.deleteForUser(7), 3)
  })

  it('excludes across two lock objects (two instances) on one key', async () => {
    const redis = await connect()
    const key = `${prefix}lock-two`
    const [a, b] = [new RedisExclusiveLock(redis, { key }), new RedisExclusiveLock(redis, { key })]
    let inside = 0
    let most = 0
    const run = (lock: RedisExclusiveLock) =>
      lock.runExclusive(async () => {
        inside += 1
        most = Math.max(most, inside)
        await new Promise((resolve) => setImmediate(resolve))
        await redis.ping()
        inside -= 1
      })
    await Promise.all([run(a), run(b), run(a), run(b)])
    assert.equal(most, 1, 'two lock objects ran inside the lock at once')
  })

  it('never releases a lock another owner holds (after its own expired)', async () => {
    const redis = await connect()
    const key = `${prefix}lock-owner`
    const lock = new RedisExclusiveLock(redis, { key })
    await lock.runExclusive(async () => {
      // As if our hold had expired and another instance had taken the lock meanwhile.
      await redis.set(key, 'another-owner', 'PX', 60_000)
    })
    assert.equal(await redis.get(key), 'another-owner')
    await redis.del(key)
  })
})
