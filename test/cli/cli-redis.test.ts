/**
 * The CLI beside an application whose sessions, deny-list and counters live in Redis (the plugin's `redis`
 * option): with `--redis` it lists and ends the sessions kept there, and a running instance's
 * authentication cache drops an ended session at once (the CLI publishes on the cache's Redis channel),
 * long before the cache's TTL. Without `--redis` it cannot see them, and says so.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyUsers } from '../../src/fastify/index.js'
import { assertProblem, cookieOf, PASSWORD, SECRET } from '../fastify/build-app.js'
import { createTestDatabase, redisTestUrl, type TestDatabase, testRedis } from '../helpers/databases.js'
import { assertBuilt, type CliRun, runCliProcess } from './cli-process.js'

before(() => assertBuilt())

describe('fastify-users sessions and end-sessions with --redis', { skip: testRedis.skip }, () => {
  let database: TestDatabase<unknown>
  let app: FastifyInstance
  let redisUrl: string
  // A prefix of this run's own, so nothing else's keys are touched.
  const prefix = `fu-cli-test-${randomBytes(4).toString('hex')}:`
  const run = (...args: string[]) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
  const withRedis = (...args: string[]) => run(...args, '--redis', redisUrl, '--redis-prefix', prefix)

  before(async () => {
    redisUrl = redisTestUrl() as string
    database = await createTestDatabase('sqlite')
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: database.url,
      migrate: true,
      redis: redisUrl,
      redisPrefix: prefix,
      authBackend: 'session',
      cookie: { secure: false },
      // Far longer than the test: an ended session must be dropped by the message, not by the TTL.
      cache: { ttlSeconds: 60 },
    })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await database?.destroy()
  })

  it('lists and ends a session kept in Redis, and the running cache drops it at once', async () => {
    const email = 'ada@example.com'
    await app.users.addUser({ email, password: PASSWORD }, { verify: true, activate: true })
    const login = await app.inject({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    assert.equal(login.statusCode, 200, login.body)
    const headers = { cookie: `fastify-users-session=${cookieOf(login, 'fastify-users-session')?.value}` }
    const me = () => app.inject({ method: 'GET', url: '/users/me', headers })
    assert.equal((await me()).statusCode, 200)

    const listed: CliRun = await withRedis('sessions', '--email', email, '--json')
    assert.equal(listed.code, 0, listed.stderr)
    const sessions = (JSON.parse(listed.stdout) as { sessions: Array<{ id: string }> }).sessions
    assert.equal(sessions.length, 1)
    const id = sessions[0]!.id

    // Without --redis the CLI reads the database's session table, where this session is not.
    const blind = await run('end-sessions', '--email', email, '--session', id)
    assert.equal(blind.code, 1, blind.stderr)
    assert.match(blind.stderr, /session not found/)
    assert.equal((await me()).statusCode, 200)

    const ended = await withRedis('end-sessions', '--email', email, '--session', id)
    assert.equal(ended.code, 0, ended.stderr)
    // The message crosses Redis to this process's subscriber: allow it a moment, far below the 60 s TTL.
    let answer = await me()
    for (let i = 0; i < 50 && answer.statusCode === 200; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      answer = await me()
    }
    assertProblem(answer, 401)
  })

  it('refuses a --redis that is not a Redis URL, as a usage error', async () => {
    const refused = await run('sessions', '--email', 'ada@example.com', '--redis', 'http://127.0.0.1:6379')
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /--redis .*must be a URL/)
  })
})
