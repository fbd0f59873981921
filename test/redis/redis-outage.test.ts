/**
 * Redis stopped under a running app: the plugin answers 503 ERR_DATABASE_UNAVAILABLE with Retry-After
 * (never a 500, never a crash), recovers when Redis is back, and closes its own client but not the app's.
 * The test starts a redis-server of its own on a free port (no persistence) and kills it.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { fastifyUsers } from '../../src/fastify/index.js'
import { assertProblem, cookieOf, PASSWORD, SECRET } from '../fastify/build-app.js'
import { testRedis } from '../helpers/databases.js'

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let out = ''
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    out += chunk.toString()
    if (out.includes('Ready to accept connections')) break
  }
  child.stdout?.resume()
  return child
}

describe('Redis down under a running app', { skip: testRedis.skip }, () => {
  let port: number
  let server: ChildProcess | undefined
  let app: FastifyInstance
  let own: Redis

  before(async () => {
    port = await freePort()
    server = await startRedis(port)
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: { connection: 'sqlite::memory:', migrate: true },
      redis: `redis://127.0.0.1:${port}`,
      authBackend: 'session',
      cookie: { secure: false },
    })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await own?.quit().catch(() => own.disconnect())
    server?.kill('SIGKILL')
  })

  it('answers 503 with Retry-After while Redis is down, and recovers', async () => {
    const email = 'outage@example.com'
    await app.users.addUser({ email, password: PASSWORD }, { verify: true, activate: true })
    const login = () => app.inject({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    const res = await login()
    assert.equal(res.statusCode, 200, res.body)
    const headers = { cookie: `fastify-users-session=${cookieOf(res, 'fastify-users-session')?.value}` }
    assert.equal((await app.inject({ method: 'GET', url: '/users/me', headers })).statusCode, 200)

    const stopped = server as ChildProcess
    stopped.kill('SIGKILL')
    await once(stopped, 'exit')
    server = undefined
    // The authentication cache may still answer for the instant before the plugin's Redis client reads the
    // closed socket (the child's exit and the socket's close are separate events); from then on it is
    // bypassed, so the next reads go to Redis and fail. Poll for that moment rather than race it.
    const me = () => app.inject({ method: 'GET', url: '/users/me', headers })
    let down = await me()
    for (let i = 0; i < 100 && down.statusCode === 200; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      down = await me()
    }
    for (const answer of [down, await login()]) {
      assertProblem(answer, 503, 'ERR_DATABASE_UNAVAILABLE')
      assert.ok(Number(answer.headers['retry-after']) > 0, 'Retry-After is set')
    }

    // Back (empty: no persistence), the app serves again without a restart; the session is gone with the data.
    server = await startRedis(port)
    let again = await login()
    for (let i = 0; i < 100 && again.statusCode === 503; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      again = await login()
    }
    assert.equal(again.statusCode, 200, again.body)
  })

  it("closes the client it made, and leaves the application's own client open", async () => {
    // Independent of the test above: whatever state it left Redis in, this one needs it up.
    server ??= await startRedis(port)
    own = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await own.connect()
    const other = Fastify()
    await other.register(fastifyUsers, {
      secret: SECRET,
      database: { connection: 'sqlite::memory:', migrate: true },
      redis: own,
      authBackend: 'session',
    })
    await other.ready()
    await other.close()
    assert.equal(own.status, 'ready')
    assert.equal(await own.ping(), 'PONG')
  })
})
