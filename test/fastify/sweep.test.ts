/**
 * The plugin's periodic sweep purges every table with expiring rows: an expired row planted in each is
 * gone after one sweep, a live row in each is kept, and a table of the schema that is neither known to
 * expire nor known to be permanent fails the test (so a new store with expiring rows cannot be left out of
 * the sweep unnoticed). On SQLite, with every feature that owns such a table turned on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it, mock } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { sql } from 'kysely'
import { purgeAll } from '../../src/fastify/sweep.js'
import { buildApp, type TestApp } from './build-app.js'

const LONG_AGO = 1000
const FAR_AHEAD = Date.now() + 10 * 365 * 24 * 3600 * 1000

/** One row of a table, expired (`at` long ago) or live (`at` far ahead, or now for the counters). */
type Row = (at: number, id: string, userId: string) => Record<string, unknown>

const EXPIRING: Record<string, Row> = {
  sessions: (at, id, userId) => ({
    id,
    user_id: userId,
    auth_version: 0,
    created_at: Math.min(at, Date.now()),
    last_seen_at: Math.min(at, Date.now()),
    expires_at: at,
  }),
  revoked_tokens: (at, id) => ({ jti: id, expires_at: at }),
  login_attempts: (at, id) => ({ key: id, failures: 3, last_failure_at: Math.min(at, Date.now()) }),
  mail_cap: (at, id) => ({ key: id, sent: 1, window_start: Math.min(at, Date.now()) }),
  refresh_tokens: (at, id, userId) => ({
    token_hash: id,
    family_id: id,
    user_id: userId,
    auth_version: 0,
    issued_at: Math.min(at, Date.now()),
    expires_at: at,
    family_created_at: Math.min(at, Date.now()),
    family_expires_at: at,
  }),
  step_up_proofs: (at, id, userId) => ({
    credential_id: id,
    user_id: userId,
    kind: 'password',
    proved_at: Math.min(at, Date.now()),
    expires_at: at,
  }),
  passkey_challenges: (at, id, userId) => ({ id, purpose: 'register', user_id: userId, expires_at: at }),
}

// Tables whose rows live until someone deletes them.
const PERMANENT = new Set([
  'users',
  'roles',
  'user_roles',
  'oauth_accounts',
  'user_totp',
  'passkeys',
  'fastify_users_migration',
  'fastify_users_migration_lock',
  'fastify_users_app_migration',
  'fastify_users_app_migration_lock',
])

describe('one sweep purges every table with expiring rows', () => {
  let t: TestApp
  before(async () => {
    // The sweep's timer, driven by hand; everything else keeps real time.
    mock.timers.enable({ apis: ['setInterval'] })
    t = await buildApp({
      backend: 'jwt',
      passkeys: { rpId: 'app.example.com', rpName: 'Example', origins: ['https://app.example.com'] },
      routes: { twoFactor: { issuer: 'Acme' } },
    })
  })
  after(async () => {
    mock.timers.reset()
    await t?.destroy()
  })

  it('plants an expired and a live row in each, and keeps only the live ones', async () => {
    const db = t.db as unknown as import('kysely').Kysely<Record<string, Record<string, unknown>>>
    const tables = (
      await sql<{
        name: string
      }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db)
    ).rows.map((r) => r.name)
    const unclassified = tables.filter((name) => !(name in EXPIRING) && !PERMANENT.has(name))
    assert.deepEqual(
      unclassified,
      [],
      'a table neither swept nor known to be permanent: add its store to the sweep (sweepTargets) and here',
    )
    for (const name of Object.keys(EXPIRING)) assert.ok(tables.includes(name), `${name} exists`)

    const { user } = await t.createUser()
    const userId = String(user.id)
    for (const [table, row] of Object.entries(EXPIRING)) {
      await db
        .insertInto(table)
        .values(row(LONG_AGO, `expired-${table}`, userId))
        .execute()
      await db
        .insertInto(table)
        .values(row(FAR_AHEAD, `live-${table}`, userId))
        .execute()
    }

    mock.timers.tick(10 * 60 * 1000)
    const left = async (table: string) =>
      (await db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r))
    const expiredLeft = async () => {
      const found: string[] = []
      for (const table of Object.keys(EXPIRING)) {
        found.push(...(await left(table)).filter((r) => r.includes('expired-')).map((r) => `${table}: ${r}`))
      }
      return found
    }
    let remaining = await expiredLeft()
    for (let i = 0; i < 100 && remaining.length > 0; i += 1) {
      await delay(20)
      remaining = await expiredLeft()
    }
    assert.deepEqual(remaining, [], 'every expired row is gone after one sweep')
    for (const table of Object.keys(EXPIRING)) {
      assert.ok(
        (await left(table)).some((r) => r.includes(`live-${table}`)),
        `the live row of ${table} is kept`,
      )
    }
  })
})

describe('purgeAll', () => {
  it('tries every target even when one fails, then reports the failures', async () => {
    const swept: string[] = []
    const targets = [
      {
        purgeExpired: async () => {
          throw new Error('database unreachable')
        },
      },
      { purgeExpired: async () => void swept.push('second') },
    ]
    await assert.rejects(purgeAll(targets), (err: unknown) => {
      assert.ok(err instanceof AggregateError)
      assert.equal((err.errors[0] as Error).message, 'database unreachable')
      return true
    })
    assert.deepEqual(swept, ['second'])
  })
})
