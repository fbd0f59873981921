/**
 * Every Redis store turns a storage fault into a `DatabaseUnavailableError` (the plugin's 503 with
 * Retry-After), whether the fault comes as a thrown error or, from a pipeline, as an `[error, reply]` pair:
 * every method of every store on a closed connection; a pipeline whose connection closes between two
 * commands; a key of the wrong type planted under the stores' prefix (WRONGTYPE), through the stores and
 * through the plugin's routes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { fastifyUsers } from '../../src/fastify/index.js'
import { DatabaseUnavailableError } from '../../src/kernel/errors.js'
import {
  createRedisStores,
  RedisExclusiveLock,
  RedisInvalidationBus,
  RedisLoginAttemptStore,
  RedisMailCapStore,
  RedisSessionRepository,
  RedisTokenDenylist,
} from '../../src/persistence/redis/index.js'
import { assertProblem, cookieOf, PASSWORD, SECRET } from '../fastify/build-app.js'
import { redisTestUrl, testRedis } from '../helpers/databases.js'
import { keysUnder, sessionRecord } from './keys.js'

const prefix = `fu-test-${randomBytes(6).toString('hex')}:`

// Arguments that each method can take; the rest get (key, now, window).
const ARGUMENTS: Record<string, () => unknown[]> = {
  create: () => [sessionRecord('s1', 'u1')],
  runExclusive: () => [async () => 'done'],
  publish: () => [{ kind: 'user', id: 'u1' }],
}

async function connected(): Promise<Redis> {
  const client = new Redis(redisTestUrl() as string, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  await client.connect()
  return client
}

async function assertUnavailable(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(
      err instanceof DatabaseUnavailableError,
      `${what}: expected a DatabaseUnavailableError, got ${String(err)}`,
    )
    return true
  })
}

describe('Redis faults are "storage unavailable" in every store', { skip: testRedis.skip }, () => {
  let client: Redis
  before(async () => {
    client = await connected()
  })
  after(async () => {
    const keys = await keysUnder(client, prefix)
    if (keys.length > 0) await client.del(...keys)
    await client.quit()
  })

  it('every method of every store, on a closed connection', async () => {
    const closed = await connected()
    closed.disconnect()
    const stores: object[] = [
      new RedisSessionRepository(closed, { prefix }),
      new RedisLoginAttemptStore(closed, prefix),
      new RedisMailCapStore(closed, prefix),
      new RedisTokenDenylist(closed, prefix),
      new RedisExclusiveLock(closed, { key: `${prefix}lock`, waitMs: 100 }),
      new RedisInvalidationBus(closed, { channel: `${prefix}bus`, connectTimeoutMs: 100 }),
    ]
    let called = 0
    for (const store of stores) {
      const proto = Object.getPrototypeOf(store) as Record<string, unknown>
      for (const name of Object.getOwnPropertyNames(proto)) {
        // Nothing to send: expiry is Redis' own; subscribing reports its status instead of throwing.
        if (name === 'constructor' || name === 'deleteExpired' || name === 'subscribe' || name === 'close')
          continue
        const method = proto[name] as (...args: unknown[]) => Promise<unknown>
        const args = ARGUMENTS[name]?.() ?? ['key', Date.now(), 60_000]
        await assertUnavailable(method.apply(store, args), `${store.constructor.name}.${name}`)
        called += 1
      }
    }
    assert.ok(called >= 15, `every method was called (${called})`)
  })

  it('a pipeline whose connection closes before it is sent', async () => {
    const own = await connected()
    const sessions = new RedisSessionRepository(own, { prefix })
    await sessions.create(sessionRecord(`p-${randomBytes(8).toString('hex')}`, 'pipeline-user'))
    // The index read succeeds; the connection is gone by the time the pipeline of session reads is sent.
    const pipeline = own.pipeline.bind(own)
    own.pipeline = ((...args: Parameters<Redis['pipeline']>) => {
      const batch = pipeline(...args)
      own.disconnect()
      return batch
    }) as Redis['pipeline']
    await assertUnavailable(sessions.listForUser('pipeline-user'), 'listForUser')
  })

  it('a key of the wrong type under the prefix (WRONGTYPE), in scripts, commands and pipelines', async () => {
    const stores = createRedisStores(client, { prefix })
    const sessions = new RedisSessionRepository(client, { prefix })
    // A session id listed in the user's index whose key is a string, not a hash.
    await client.zadd(`${prefix}user-sessions:wrong-user`, Date.now() + 60_000, 'planted')
    await client.set(`${prefix}session:planted`, 'not a hash', 'PX', 60_000)
    await assertUnavailable(sessions.listForUser('wrong-user'), 'listForUser (pipeline)')
    await assertUnavailable(sessions.find('planted'), 'find (command)')
    await assertUnavailable(sessions.touch('planted', Date.now()), 'touch (script)')
    // The counters' keys planted as lists.
    await client.rpush(`${prefix}login-attempts:planted`, 'x')
    await client.rpush(`${prefix}mail-cap:planted`, 'x')
    await assertUnavailable(
      stores.loginAttemptStore.recordFailure('planted', Date.now(), 60_000),
      'recordFailure (script)',
    )
    await assertUnavailable(stores.loginAttemptStore.failures('planted', Date.now(), 60_000), 'failures')
    await assertUnavailable(stores.mailCapStore.hit('planted', Date.now(), 60_000), 'hit (script)')
  })
})

describe('a WRONGTYPE under the plugin prefix answers 503, not 500', { skip: testRedis.skip }, () => {
  const appPrefix = `fu-test-${randomBytes(6).toString('hex')}:`
  let app: FastifyInstance
  let probe: Redis
  const lines: { level: number; code?: string; cause?: string }[] = []
  before(async () => {
    probe = await connected()
    app = Fastify({ logger: { level: 'info', stream: { write: (l: string) => lines.push(JSON.parse(l)) } } })
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: { connection: 'sqlite::memory:', migrate: true },
      redis: redisTestUrl() as string,
      redisPrefix: appPrefix,
      authBackend: 'session',
      cookie: { secure: false },
    })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    const keys = await keysUnder(probe, appPrefix)
    if (keys.length > 0) await probe.del(...keys)
    await probe.quit()
  })

  it('GET /users/me/sessions with a foreign key in the session index', async () => {
    const email = 'wrongtype@example.com'
    const user = await app.users.addUser({ email, password: PASSWORD }, { verify: true, activate: true })
    const login = await app.inject({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    assert.equal(login.statusCode, 200, login.body)
    const headers = { cookie: `fastify-users-session=${cookieOf(login, 'fastify-users-session')?.value}` }
    assert.equal((await app.inject({ method: 'GET', url: '/users/me/sessions', headers })).statusCode, 200)

    await probe.zadd(`${appPrefix}user-sessions:${String(user.id)}`, Date.now() + 60_000, 'planted')
    await probe.set(`${appPrefix}session:planted`, 'not a hash', 'PX', 60_000)
    lines.length = 0
    const res = await app.inject({ method: 'GET', url: '/users/me/sessions', headers })
    assertProblem(res, 503, 'ERR_DATABASE_UNAVAILABLE')
    assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After is set')
    // Logged once, as a warning naming Redis' reply; no error line.
    const logged = lines.filter((l) => l.code === 'ERR_DATABASE_UNAVAILABLE')
    assert.equal(logged.length, 1, JSON.stringify(lines))
    assert.equal(logged[0]?.level, 40)
    assert.match(logged[0]?.cause ?? '', /^WRONGTYPE/)
    assert.deepEqual(
      lines.filter((l) => l.level >= 50),
      [],
    )
  })
})
