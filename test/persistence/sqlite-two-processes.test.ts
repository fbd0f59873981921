/**
 * Regression: two server processes on one SQLite file answered `DELETE /users/:id` with 500 `SQLITE_BUSY`
 * under light concurrent writes: the delete's transaction began with a read (deferred), and a deferred
 * transaction cannot upgrade to a writer once another process has written, whatever the busy timeout.
 * Write transactions now start as writers (`BEGIN IMMEDIATE`) and wait for the lock up to the busy timeout.
 *
 * Two real server processes on one file, real HTTP on 127.0.0.1, concurrent registrations, logins,
 * updates and deletes spread over both: not one 5xx.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Kysely } from 'kysely'
import { BaseUserService } from '../../src/core/user-service.js'
import { connectDatabase } from '../../src/persistence/kysely/connect.js'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { AppProcess, Client } from '../examples/app-process.js'

const PASSWORD = 'correct horse battery staple'
const LOAD_MS = 8_000
/** Users created up front (without a password hash to spend CPU on): some to delete, some to update. */
const DOOMED = 240
const STABLE = 20

describe('two server processes on one SQLite file', () => {
  const file = join(tmpdir(), `fu_test_${randomBytes(6).toString('hex')}.db`)
  const url = `sqlite://${file}`
  const servers: AppProcess[] = []
  const bases: string[] = []
  let db: Kysely<unknown>
  let adminToken: string
  const doomed: string[] = []
  const stable: string[] = []

  const start = async (): Promise<void> => {
    const server = new AppProcess({ entry: 'test/persistence/db-server.ts', env: { DATABASE_URL: url } })
    servers.push(server)
    const match = await server.waitForLine(/^listening (\d+)$/, { timeoutMs: 120_000 })
    bases.push(`http://127.0.0.1:${match[1]}`)
  }

  before(async () => {
    await start() // migrates the file
    db = (await connectDatabase<unknown>(url)).db
    const service = new BaseUserService({
      secret: 'db-server-test-secret-0123456789-abcdefghijklmnop',
      ...createKyselyRepositories(db),
    })
    const admin = await service.addUser({ email: 'admin@example.com', password: PASSWORD }, { verify: true })
    const role = await service.addRole({ name: 'admin' })
    await service.assignRole(admin.id, role.id)
    const repos = createKyselyRepositories(db)
    for (let i = 0; i < DOOMED + STABLE; i++) {
      const user = await repos.userRepository.insert({
        email: `bulk${i}@example.com`,
        passwordHash: 'x',
      } as never)
      ;(i < DOOMED ? doomed : stable).push(String(user.id))
    }
    await start()
    const login = await new Client(bases[0]!).request('POST', '/login', {
      email: 'admin@example.com',
      password: PASSWORD,
    })
    assert.equal(login.status, 200, login.text)
    adminToken = (login.body as { accessToken: string }).accessToken
  })
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await db?.destroy()
    await Promise.all([file, `${file}-wal`, `${file}-shm`].map((path) => rm(path, { force: true })))
  })

  it('answers no 5xx to concurrent registrations, logins, updates and deletes', async (t) => {
    const statuses = new Map<string, number>()
    const bad: string[] = []
    let deletes = 0
    const note = (what: string, status: number, text: string) => {
      const key = `${what} ${status}`
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      if (status >= 500) bad.push(`${what}: ${status} ${text}`)
    }
    const until = Date.now() + LOAD_MS
    const worker = async (w: number) => {
      for (let n = 0; Date.now() < until; n++) {
        const [here, there] = n % 2 === 0 ? [bases[0]!, bases[1]!] : [bases[1]!, bases[0]!]
        const email = `p${w}.${n}.${process.pid}@example.com`
        const user = new Client(here)
        const reg = await user.request('POST', '/register', { email, password: PASSWORD })
        note('register', reg.status, reg.text)
        if (reg.status !== 201) continue
        const id = (reg.body as { id: string }).id
        const other = new Client(there)
        const login = await other.request('POST', '/login', { email, password: PASSWORD })
        note('login', login.status, login.text)
        if (login.status === 200) {
          other.bearer = (login.body as { accessToken: string }).accessToken
          const patch = await other.request('PATCH', '/users/me', { displayName: `n${n}` })
          note('update', patch.status, patch.text)
        }
        const admin = new Client(n % 3 === 0 ? here : there)
        admin.bearer = adminToken
        const patched = await admin.request('PATCH', `/users/${id}`, { isActive: false })
        note('admin update', patched.status, patched.text)
        const deleted = await admin.request('DELETE', `/users/${id}`)
        note('delete', deleted.status, deleted.text)
        deletes += 1
      }
    }
    const adminOn = (base: string) => Object.assign(new Client(base), { bearer: adminToken })
    // Deleters on both servers, racing writers on both servers, and a few full user journeys.
    // The deletes all run, however slow a loaded machine is (up to a minute); the writers race them.
    const deletesUntil = Date.now() + 60_000
    let deletersLeft = 4
    const deleter = async (d: number) => {
      const client = adminOn(bases[d % 2]!)
      for (let i = d; i < doomed.length && Date.now() < deletesUntil; i += 4) {
        const res = await client.request('DELETE', `/users/${doomed[i]}`)
        note('delete', res.status, res.text)
        deletes += 1
      }
      deletersLeft -= 1
    }
    const writer = async (w: number) => {
      const client = adminOn(bases[w % 2]!)
      for (let n = 0; deletersLeft > 0; n++) {
        const res = await client.request('PATCH', `/users/${stable[(n + w) % stable.length]}`, {
          displayName: `w${w}.${n}`,
        })
        note('admin update', res.status, res.text)
      }
    }
    await Promise.all([...[0, 1, 2, 3].map(deleter), ...[0, 1, 2, 3].map(writer), ...[0, 1].map(worker)])
    t.diagnostic(`${deletes} deletes; answers: ${JSON.stringify([...statuses])}`)
    for (const server of servers) assert.equal(server.child.exitCode, null, server.output)
    assert.deepEqual(bad, [])
    assert.ok(deletes >= DOOMED, `every planned delete ran: ${deletes}`)
    assert.ok((statuses.get('delete 200') ?? 0) > 0, JSON.stringify([...statuses]))
  })
})
