/**
 * Regression (Critical): on PostgreSQL, terminating the server process's connections under load killed the
 * process (`Unhandled 'error' event ... Connection terminated unexpectedly`): a client checked out of the
 * pool emits its own 'error', and nothing listened. And during an outage the answers were 500.
 *
 * A real server runs in a child process on a fresh database, under a modest load of registrations,
 * logins, reads and updates over real HTTP, while the test kills the database connections of that database
 * again and again with admin SQL (`pg_terminate_backend`, MariaDB's `KILL CONNECTION`): the real database
 * servers are never stopped, other tests use them. The process must survive; every answer is a success or
 * a 503 problem+json with `Retry-After` (never a 500); it answers normally again once the killing stops;
 * and every registration and update it acknowledged is in the database afterwards.
 *
 * Also: a database that is down at start is retried for `connectTimeoutMs`, then start-up fails with a
 * clear message.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Kysely, sql } from 'kysely'
import { connectDatabase } from '../../src/persistence/kysely/connect.js'
import { AppProcess, Client, freePort } from '../examples/app-process.js'
import { createTestDatabase, type TestDatabase, testDialects, testServerUrl } from '../helpers/databases.js'

const PASSWORD = 'correct horse battery staple'
const LOAD_MS = 8_000
const KILL_EVERY_MS = 250
const WORKERS = 4

interface Outcome {
  statuses: Map<number, number>
  bad: string[]
  registered: Set<string>
  /** Per email: the last display name the server acknowledged, and names sent after it without an answer. */
  names: Map<string, { acked: string | null; pending: Set<string> }>
}

function record(outcome: Outcome, what: string, res: { status: number; text: string; headers: Headers }) {
  outcome.statuses.set(res.status, (outcome.statuses.get(res.status) ?? 0) + 1)
  if (res.status === 503) {
    if (!/^application\/problem\+json/.test(res.headers.get('content-type') ?? '')) {
      outcome.bad.push(`${what}: 503 without problem+json: ${res.text}`)
    }
    const retryAfter = Number(res.headers.get('retry-after'))
    if (!Number.isInteger(retryAfter) || retryAfter < 1) outcome.bad.push(`${what}: 503 without Retry-After`)
    if (!res.text.includes('ERR_DATABASE_UNAVAILABLE'))
      outcome.bad.push(`${what}: 503 of another kind: ${res.text}`)
  } else if (res.status >= 500) {
    outcome.bad.push(`${what}: ${res.status} ${res.text}`)
  }
}

/** One client's loop: register, log in, read, update its display name, again and again. */
async function worker(base: string, id: number, until: number, outcome: Outcome): Promise<void> {
  let n = 0
  while (Date.now() < until) {
    n += 1
    const email = `w${id}.${n}.${process.pid}@example.com`
    const client = new Client(base)
    const safe = async (what: string, method: string, path: string, body?: unknown) => {
      try {
        const res = await client.request(method, path, body)
        record(outcome, what, res)
        return res
      } catch (err) {
        // A connection reset by the server would mean it died or dropped a request: never acceptable.
        outcome.bad.push(`${what}: ${String(err)}`)
        return null
      }
    }
    const reg = await safe('register', 'POST', '/register', { email, password: PASSWORD })
    if (reg?.status !== 201) continue
    outcome.registered.add(email)
    const login = await safe('login', 'POST', '/login', { email, password: PASSWORD })
    if (login?.status !== 200) continue
    client.bearer = (login.body as { accessToken: string }).accessToken
    const names = { acked: null as string | null, pending: new Set<string>() }
    outcome.names.set(email, names)
    for (let k = 0; k < 5 && Date.now() < until; k++) {
      await safe('read', 'GET', '/users/me')
      const name = `n${k}`
      names.pending.add(name)
      const res = await safe('update', 'PATCH', '/users/me', { displayName: name })
      if (res?.status === 200) {
        names.acked = name
        names.pending.clear()
      }
    }
  }
}

async function killConnections(
  admin: Kysely<unknown>,
  dialect: 'postgres' | 'mysql',
  name: string,
): Promise<number> {
  if (dialect === 'postgres') {
    const result = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
      where datname = ${name} and pid <> pg_backend_pid()`.execute(admin)
    return result.rows.length
  }
  const result = await sql<{ ID: number }>`
    select ID from information_schema.PROCESSLIST where DB = ${name} and ID <> connection_id()`.execute(admin)
  for (const row of result.rows) {
    await sql`kill connection ${sql.raw(String(Number(row.ID)))}`.execute(admin).catch(() => {})
  }
  return result.rows.length
}

for (const { name: dialect, skip } of testDialects) {
  if (dialect === 'sqlite') continue
  describe(`a ${dialect} database whose connections are killed under load`, { skip }, () => {
    let database: TestDatabase<unknown>
    let admin: Kysely<unknown>
    let server: AppProcess
    let base: string

    before(async () => {
      database = await createTestDatabase<unknown>(dialect, { poolSize: 2 })
      admin = (await connectDatabase<unknown>(testServerUrl(dialect)!, { poolSize: 1 })).db
      server = new AppProcess({ entry: 'test/persistence/db-server.ts', env: { DATABASE_URL: database.url } })
      const [, port] = (await server.waitForLine(/^listening (\d+)$/, { timeoutMs: 120_000 })) as unknown as [
        string,
        string,
      ]
      base = `http://127.0.0.1:${port}`
    })
    after(async () => {
      await server?.stop()
      await admin?.destroy()
      await database?.destroy()
    })

    it('survives, answers 503 (never 500) during, recovers after, and loses no acknowledged write', async (t) => {
      const outcome: Outcome = { statuses: new Map(), bad: [], registered: new Set(), names: new Map() }
      const until = Date.now() + LOAD_MS
      let killed = 0
      const killer = (async () => {
        while (Date.now() < until) {
          await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS))
          killed += await killConnections(admin, dialect, database.name)
        }
      })()
      await Promise.all([
        ...Array.from({ length: WORKERS }, (_, i) => worker(base, i, until, outcome)),
        killer,
      ])

      t.diagnostic(`killed ${killed} connections; answers: ${JSON.stringify([...outcome.statuses])}`)
      assert.equal(server.child.exitCode, null, `the server died\n${server.output}`)
      assert.equal(server.child.signalCode, null, `the server died\n${server.output}`)
      assert.ok(killed > 0, 'connections were killed')
      assert.deepEqual(outcome.bad, [], `bad answers: ${[...outcome.statuses]}`)
      assert.ok(
        (outcome.statuses.get(201) ?? 0) > 0,
        `some registrations succeeded: ${[...outcome.statuses]}`,
      )

      // Recovery: once the killing stops, requests succeed again at once (the pool opens new connections).
      const client = new Client(base)
      const email = `after.${process.pid}@example.com`
      const started = Date.now()
      let res = await client.request('POST', '/register', { email, password: PASSWORD })
      while (res.status === 503 && Date.now() - started < 5_000) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        res = await client.request('POST', '/register', { email, password: PASSWORD })
      }
      assert.equal(res.status, 201, res.text)
      assert.equal((await client.request('POST', '/login', { email, password: PASSWORD })).status, 200)

      // No acknowledged write was lost.
      const rows = await sql<{ email: string; display_name: string | null }>`
        select email, display_name from users`.execute(database.db)
      const stored = new Map(rows.rows.map((r) => [r.email, r.display_name]))
      for (const registered of outcome.registered) assert.ok(stored.has(registered), `${registered} was lost`)
      for (const [who, { acked, pending }] of outcome.names) {
        const value = stored.get(who) ?? null
        if (acked === null) continue
        assert.ok(value === acked || pending.has(value ?? ''), `${who}: ${value}, acknowledged ${acked}`)
      }
    })
  })
}

describe('a database that is down at start', () => {
  it('is retried for connectTimeoutMs, then start-up fails with a clear message', async () => {
    const port = await freePort()
    const started = Date.now()
    await assert.rejects(
      connectDatabase(`postgres://postgres@127.0.0.1:${port}/nothing`, { connectTimeoutMs: 1_500 }),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(
            `^Cannot connect to postgres://postgres@127\\.0\\.0\\.1:${port}/nothing within 1\\.5 s: `,
          ),
        )
        assert.match(err.message, /ECONNREFUSED/)
        return true
      },
    )
    const waited = Date.now() - started
    assert.ok(waited >= 1_400, `retried for the timeout, not ${waited} ms`)
    assert.ok(waited < 10_000, `gave up after the timeout, not ${waited} ms`)
  })

  it('the plugin retries too, then its registration fails with the same clear message', async () => {
    const port = await freePort()
    const server = new AppProcess({
      entry: 'test/persistence/db-server.ts',
      env: { DATABASE_URL: `mysql://root@127.0.0.1:${port}/nothing`, CONNECT_TIMEOUT_MS: '1000' },
    })
    // Generous: a loaded CI machine can take many seconds just to start a TypeScript child process.
    const code = await server.exited(90_000)
    assert.notEqual(code, 0)
    assert.match(
      server.output,
      new RegExp(`Cannot connect to mysql://root@127\\.0\\.0\\.1:${port}/nothing within 1 s`),
    )
  })

  it('connectTimeoutMs is validated', async () => {
    await assert.rejects(connectDatabase('sqlite::memory:', { connectTimeoutMs: -1 }), TypeError)
  })
})
