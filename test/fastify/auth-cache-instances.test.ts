/**
 * The authentication cache across two instances on real sockets (127.0.0.1) sharing one PostgreSQL
 * database, invalidations over PostgreSQL LISTEN/NOTIFY and over Redis pub/sub.
 *
 * What is checked, and when. A revoking write on instance A answers only after its invalidation was
 * accepted by the bus (NOTIFY executed / PUBLISH answered). Two measures:
 * - violations: after the write answered AND an independent subscriber on the same channel received a
 *   barrier message published after it (so the bus delivered the write's invalidation to every
 *   subscriber), instance B must refuse the credential. Asserted: 0 violations.
 * - propagation: B polled from the moment the write answered until it refuses; max and median printed,
 *   asserted < 1 s.
 * And fail closed: while B's subscription is down, B asks the database (a write behind the library's back
 * is seen at once); once it is back, the cache is used again.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from '../../src/auth/invalidation-bus.js'
import { fastifyUsers, rolesAccepted } from '../../src/fastify/index.js'
import { PgInvalidationBus } from '../../src/persistence/kysely/pg-invalidation-bus.js'
import { RedisInvalidationBus } from '../../src/persistence/redis/redis-invalidation-bus.js'
import {
  createTestDatabase,
  redisTestUrl,
  type TestDatabase,
  testDialects,
  testRedis,
} from '../helpers/databases.js'
import { PASSWORD, SECRET, uniqueEmail } from './build-app.js'

const postgres = testDialects.find((d) => d.name === 'postgres')
const highRate = { max: 100_000, windowSeconds: 60 }
const rateLimit = {
  groups: {
    login: highRate,
    register: highRate,
    verification: highRate,
    passwordReset: highRate,
    public: highRate,
  },
}

/** The real bus, its status changes recorded so the test knows when the subscription is down or up. */
class WatchedBus implements InvalidationBus {
  up = false
  readonly #changes: Array<() => void> = []
  readonly inner: InvalidationBus
  constructor(inner: InvalidationBus) {
    this.inner = inner
  }
  publish(message: InvalidationMessage): Promise<void> {
    return this.inner.publish(message)
  }
  subscribe(listener: InvalidationListener): Promise<void> {
    return this.inner.subscribe({
      onMessage: (m) => listener.onMessage(m),
      onStatus: (up) => {
        listener.onStatus(up)
        this.up = up
        for (const wake of this.#changes.splice(0)) wake()
      },
    })
  }
  close(): Promise<void> {
    return this.inner.close()
  }
  async until(up: boolean): Promise<void> {
    const deadline = Date.now() + 10_000
    while (this.up !== up) {
      assert.ok(Date.now() < deadline, `the bus did not go ${up ? 'up' : 'down'}`)
      await new Promise<void>((resolve) => {
        this.#changes.push(resolve)
        setTimeout(resolve, 100)
      })
    }
  }
}

/** An independent subscriber: counts the messages, to wait for a barrier. */
interface Observer {
  /** The observer's own PostgreSQL backend, spared when the test ends the listeners. */
  pid: number
  barrier(): Promise<void>
  close(): Promise<void>
}

async function pgObserver(db: Kysely<unknown>, url: string, channel: string): Promise<Observer> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  client.on('error', () => {})
  const seen = new Set<string>()
  client.on('notification', (n) => seen.add(n.payload ?? ''))
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`)
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0
  return {
    pid,
    async barrier() {
      const id = JSON.stringify({ kind: 'credential', id: `barrier-${Math.random()}` })
      await sql`select pg_notify(${channel}, ${id})`.execute(db)
      while (!seen.has(id)) await new Promise((r) => setTimeout(r, 1))
    },
    close: () => client.end(),
  }
}

async function redisObserver(url: string, channel: string): Promise<Observer> {
  const subscriber = new Redis(url)
  const publisher = new Redis(url)
  const seen = new Set<string>()
  subscriber.on('message', (_c: string, text: string) => seen.add(text))
  await subscriber.subscribe(channel)
  return {
    pid: 0,
    async barrier() {
      const id = JSON.stringify({ kind: 'credential', id: `barrier-${Math.random()}` })
      await publisher.publish(channel, id)
      while (!seen.has(id)) await new Promise((r) => setTimeout(r, 1))
    },
    async close() {
      subscriber.disconnect()
      publisher.disconnect()
    },
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

for (const busKind of ['postgres', 'redis'] as const) {
  const skip = postgres?.skip || (busKind === 'redis' ? testRedis.skip : false)
  describe(`two instances on PostgreSQL, invalidations over ${busKind}`, { skip }, () => {
    let database: TestDatabase<unknown>
    const apps: FastifyInstance[] = []
    const bases: string[] = []
    const buses: WatchedBus[] = []
    const redisClients: Redis[] = []
    let observer: Observer
    // Its own tables, hence its own channel: other suites on the same Redis cannot interfere.
    const prefix = `c${Math.random().toString(36).slice(2, 8)}_`

    before(async () => {
      database = await createTestDatabase('postgres')
      for (const i of [0, 1]) {
        let inner: InvalidationBus
        if (busKind === 'redis') {
          // Reconnects after 300 ms (ioredis' default is sooner), so the fail-closed test sees it down.
          const client = new Redis(redisTestUrl() as string, { retryStrategy: () => 300 })
          redisClients.push(client)
          inner = new RedisInvalidationBus(client, { channel: `fastify-users:auth-cache:${prefix}users` })
        } else {
          inner = new PgInvalidationBus(database.db as Kysely<unknown>, database.url, {
            channel: `fastify_users_auth_cache_${prefix}users`,
            retryMs: 300,
          })
        }
        const bus = new WatchedBus(inner)
        buses.push(bus)
        const app = Fastify()
        await app.register(fastifyUsers, {
          secret: SECRET,
          database: database.url,
          migrate: i === 0,
          tables: { prefix },
          auth: { backends: ['session', 'jwt'] },
          cookie: { secure: false },
          rateLimit,
          cache: { bus, ttlSeconds: 30 },
        })
        app.get('/admin-only', { preHandler: rolesAccepted('admin') }, async () => ({ ok: true }))
        await app.listen({ host: '127.0.0.1', port: 0 })
        const address = app.server.address()
        assert.ok(address && typeof address === 'object')
        apps.push(app)
        bases.push(`http://127.0.0.1:${address.port}`)
      }
      observer =
        busKind === 'redis'
          ? await redisObserver(redisTestUrl() as string, `fastify-users:auth-cache:${prefix}users`)
          : await pgObserver(
              database.db as Kysely<unknown>,
              database.url,
              `fastify_users_auth_cache_${prefix}users`,
            )
      await buses[0]?.until(true)
      await buses[1]?.until(true)
    })
    after(async () => {
      await observer?.close()
      for (const app of apps) await app.close()
      for (const client of redisClients) client.disconnect()
      await database?.destroy()
    })

    const call = (
      base: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: unknown,
    ) =>
      fetch(`${base}${path}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })

    async function login(backend: 'session' | 'jwt', email: string): Promise<Record<string, string>> {
      const path = backend === 'session' ? '/login' : '/auth/jwt/login'
      const res = await call(bases[0] as string, 'POST', path, {}, { email, password: PASSWORD })
      assert.equal(res.status, 200)
      if (backend === 'jwt') {
        const body = (await res.json()) as { accessToken: string }
        return { authorization: `Bearer ${body.accessToken}` }
      }
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('fastify-users-session='))
      assert.ok(cookie)
      return { cookie: cookie.split(';')[0] as string }
    }

    const kinds = ['logout', 'password change', 'deactivate', 'delete', 'role revoke'] as const

    it('B refuses a credential revoked on A: 0 violations, propagation measured', async () => {
      const a = apps[0] as FastifyInstance
      const [baseA, baseB] = bases as [string, string]
      const admin = (await a.users.getRoleByName('admin')) ?? (await a.users.addRole({ name: 'admin' }))
      // A standing admin, so revoking the role of the others never leaves the app without one.
      const keeper = await a.users.addUser(
        { email: uniqueEmail('keeper'), password: PASSWORD },
        { verify: true },
      )
      await a.users.assignRole(keeper.id, admin.id)
      const times: number[] = []
      let violations = 0
      let checks = 0
      let staleAnswers = 0
      const rounds = 4
      for (const backend of ['session', 'jwt'] as const) {
        for (const kind of kinds) {
          for (let round = 0; round < rounds; round++) {
            const user = await a.users.addUser(
              { email: uniqueEmail('inst'), password: PASSWORD },
              { verify: true },
            )
            if (kind === 'role revoke') await a.users.assignRole(user.id, admin.id)
            const headers = await login(backend, user.email)
            const probe = kind === 'role revoke' ? '/admin-only' : '/users/me'
            // Warm B's cache: the second answer is a cache hit.
            for (let i = 0; i < 2; i++) assert.equal((await call(baseB, 'GET', probe, headers)).status, 200)
            if (kind === 'logout') {
              const path = backend === 'session' ? '/logout' : '/auth/jwt/logout'
              assert.equal((await call(baseA, 'POST', path, headers)).status, 204)
            } else if (kind === 'password change') {
              // With another credential: the session that changes the password stays (as without a cache).
              const actor = await login(backend, user.email)
              const res = await call(baseA, 'POST', '/users/me/password', actor, {
                currentPassword: PASSWORD,
                newPassword: 'another long password 42',
              })
              assert.equal(res.status, 204)
            } else if (kind === 'deactivate') {
              await a.users.updateUser(user.id, { isActive: false })
            } else if (kind === 'delete') {
              await a.users.deleteUser(user.id)
            } else {
              await a.users.revokeRole(user.id, admin.id)
            }
            const refused = kind === 'role revoke' ? 403 : 401
            checks++
            if (round % 2 === 0) {
              // The guarantee: once the bus delivered, B refuses.
              await observer.barrier()
              if ((await call(baseB, 'GET', probe, headers)).status !== refused) violations++
            } else {
              // The latency: from the write's answer to B's first refusal.
              const start = performance.now()
              for (;;) {
                const status = (await call(baseB, 'GET', probe, headers)).status
                if (status === refused) break
                staleAnswers++
                assert.ok(
                  performance.now() - start < 5000,
                  `${backend} ${kind}: B still answers ${status} after 5 s`,
                )
              }
              times.push(performance.now() - start)
            }
          }
        }
      }
      const max = Math.max(...times)
      console.log(
        `# ${busKind}: ${checks} revocations (${kinds.join(', ')}; session and jwt), ${violations} violations after the bus delivered; ` +
          `propagation to B over ${times.length}: median ${median(times).toFixed(2)} ms, max ${max.toFixed(2)} ms, ${staleAnswers} stale answers while polling`,
      )
      assert.equal(violations, 0)
      assert.ok(max < 1000, `propagation max ${max} ms`)
    })

    it('fails closed: while B is unsubscribed it asks the database; once back, it caches again', async () => {
      const a = apps[0] as FastifyInstance
      const baseB = bases[1] as string
      const bus = buses[1] as WatchedBus
      const usersTable = `${prefix}users`
      const setActive = (id: unknown, active: boolean) =>
        sql`update ${sql.table(usersTable)} set is_active = ${active} where id = ${id}`.execute(database.db)
      const user = await a.users.addUser(
        { email: uniqueEmail('closed'), password: PASSWORD },
        { verify: true },
      )
      const headers = await login('session', user.email)
      assert.equal((await call(baseB, 'GET', '/users/me', headers)).status, 200)
      // Cached: a write behind the library's back is not seen (the control for what follows).
      await setActive(user.id, false)
      assert.equal((await call(baseB, 'GET', '/users/me', headers)).status, 200)
      await setActive(user.id, true)

      // Drop B's subscription from the server side.
      if (busKind === 'redis') {
        const admin = new Redis(redisTestUrl() as string)
        await admin.client('KILL', 'TYPE', 'pubsub')
        admin.disconnect()
      } else {
        await sql`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query ilike 'LISTEN%' and pid <> pg_backend_pid() and pid <> ${observer.pid}`.execute(
          database.db,
        )
      }
      await bus.until(false)
      const whileDown = await call(baseB, 'GET', '/users/me', headers)
      await setActive(user.id, false)
      const afterWrite = await call(baseB, 'GET', '/users/me', headers)
      const stillDown = !bus.up
      await setActive(user.id, true)
      assert.equal(whileDown.status, 200)
      assert.ok(stillDown, 'the bus stayed down during the check (the reconnection waits 300 ms)')
      assert.equal(afterWrite.status, 401, 'while the bus is down, every request asks the database')

      await bus.until(true)
      assert.equal((await call(baseB, 'GET', '/users/me', headers)).status, 200)
      await setActive(user.id, false)
      assert.equal((await call(baseB, 'GET', '/users/me', headers)).status, 200, 'cached again once back')
      await setActive(user.id, true)
    })
  })
}
