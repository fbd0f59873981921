/** The `redis` and `redisPrefix` options: misuse fails at registration with a message naming the option. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Fastify from 'fastify'
import { fastifyUsers } from '../../src/fastify/index.js'
import type { FastifyUsersOptions } from '../../src/fastify/options.js'
import { type PluginRedis, rateLimitWithRedis } from '../../src/fastify/redis-setup.js'
import { SECRET } from '../fastify/build-app.js'

async function register(options: Partial<FastifyUsersOptions>): Promise<void> {
  const app = Fastify()
  try {
    await app.register(fastifyUsers, { secret: SECRET, database: 'sqlite::memory:', ...options })
    await app.ready()
  } finally {
    await app.close()
  }
}

describe('the redis option', () => {
  it('refuses what is neither a redis URL nor an ioredis client', async () => {
    for (const redis of ['http://127.0.0.1:6379', '', { quit: async () => {} }, 42]) {
      await assert.rejects(
        register({ redis: redis as FastifyUsersOptions['redis'] }),
        (err: Error) => err instanceof TypeError && /option `redis`/.test(err.message),
        String(redis),
      )
    }
  })

  it('refuses a redisPrefix that is not a short string', async () => {
    await assert.rejects(
      register({ redis: 'redis://127.0.0.1:1', redisPrefix: 7 as unknown as string }),
      (err: Error) => err instanceof TypeError && /`redisPrefix`/.test(err.message),
    )
  })

  it('is given once: top level or in the database group', async () => {
    await assert.rejects(
      register({ database: { connection: 'sqlite::memory:', redis: 'redis://a' }, redis: 'redis://b' }),
      /`database.redis` is also given as `redis`/,
    )
  })

  it("fails registration, naming the option, when Redis cannot be reached (without the URL's password)", async () => {
    await assert.rejects(register({ redis: 'redis://:hunter2-secret@127.0.0.1:1' }), (err: Error) => {
      assert.match(err.message, /cannot connect to the Redis server of option `redis`/)
      assert.doesNotMatch(err.message, /hunter2/)
      return true
    })
  })

  it("puts the rate-limit counts in the plugin's Redis unless told otherwise", () => {
    const client = {} as PluginRedis['client']
    const redis = { client, prefix: 'app:', owned: true }
    assert.deepEqual(rateLimitWithRedis(undefined, redis), { nameSpace: 'app:rate-limit:', redis: client })
    assert.equal(rateLimitWithRedis(false, redis), false)
    const own = { redis: { own: true } }
    assert.equal(rateLimitWithRedis(own, redis), own)
    assert.deepEqual(rateLimitWithRedis({ nameSpace: 'x:' }, redis), { nameSpace: 'x:', redis: client })
    assert.equal(rateLimitWithRedis(undefined, undefined), undefined)
  })
})
