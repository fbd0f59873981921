/**
 * Seeds the users table directly through SQL, never through the API: N users cycling through a few
 * precomputed argon2id hashes (all of the same password, made with the library's default parameters),
 * in batches, each batch in one transaction. A million users take seconds instead of the hours a million
 * argon2id hashes would.
 *
 * The schema comes from the library's own migrations (`migrateToLatest`), so the seeded table is the one
 * the plugin reads, with all its indexes.
 *
 * As a command: `tsx bench/seed.ts sqlite:/tmp/users.db 1000000` (or a `postgres://` URL).
 *
 * @module
 */
import { pathToFileURL } from 'node:url'
import { v7 as uuidv7 } from 'uuid'
import { Argon2idHasher } from '../src/password/argon2-hasher.js'
import { connectDatabase } from '../src/persistence/kysely/connect.js'
import { migrateToLatest } from '../src/persistence/kysely/migrate.js'
import { BENCH_LOGIN_EMAIL, BENCH_PASSWORD, seededEmail } from './common.js'

/** What to seed. */
export interface SeedPlan {
  /** How many `user<i>@bench.test` users (i from 0). */
  count: number
  /** The hashes to cycle through (see {@link precomputeHashes}). */
  hashes: readonly string[]
  /** Extra users to add, by email (the login user of scenarios 1 to 4). Default: none. */
  extraEmails?: readonly string[]
  /** Rows per transaction. Default: `10000` for SQLite, `1000` for PostgreSQL. */
  batchSize?: number
}

/** How seeding went. */
export interface SeedResult {
  inserted: number
  seconds: number
}

/** `n` argon2id hashes of {@link BENCH_PASSWORD} with the library's default parameters (m=19456, t=2, p=1). */
export async function precomputeHashes(n = 4): Promise<string[]> {
  const hasher = new Argon2idHasher()
  const hashes: string[] = []
  for (let i = 0; i < n; i++) hashes.push(await hasher.hash(BENCH_PASSWORD))
  return hashes
}

/** Creates the library's schema in the database a URL names (idempotent). */
export async function migrateDatabase(url: string): Promise<void> {
  const { db } = await connectDatabase<unknown>(url)
  try {
    await migrateToLatest(db, { idType: 'uuid' })
  } finally {
    await db.destroy()
  }
}

interface Row {
  id: string
  email: string
  hash: string
  at: number
}

function* rows(plan: SeedPlan): Generator<Row> {
  const at = Date.now()
  const emails = [...(plan.extraEmails ?? [])]
  for (let i = 0; i < emails.length; i++) {
    yield { id: uuidv7(), email: emails[i]!, hash: plan.hashes[i % plan.hashes.length]!, at }
  }
  for (let i = 0; i < plan.count; i++) {
    yield { id: uuidv7(), email: seededEmail(i), hash: plan.hashes[i % plan.hashes.length]!, at }
  }
}

async function seedSqlite(url: string, plan: SeedPlan): Promise<number> {
  const file = url.slice('sqlite:'.length).replace(/^\/\//, '')
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    const insert = db.prepare(
      'insert into users (id, email, username, password_hash, is_active, is_verified, auth_version, created_at, updated_at) values (?, ?, null, ?, 1, 1, 0, ?, ?)',
    )
    const batchSize = plan.batchSize ?? 10_000
    let batch: Row[] = []
    let inserted = 0
    const flush = db.transaction((items: Row[]) => {
      for (const r of items) insert.run(r.id, r.email, r.hash, r.at, r.at)
    })
    for (const row of rows(plan)) {
      batch.push(row)
      if (batch.length >= batchSize) {
        flush(batch)
        inserted += batch.length
        batch = []
      }
    }
    if (batch.length > 0) flush(batch)
    inserted += batch.length
    // Leave no big WAL behind: the server should start on a checkpointed file.
    db.pragma('wal_checkpoint(TRUNCATE)')
    return inserted
  } finally {
    db.close()
  }
}

async function seedPostgres(url: string, plan: SeedPlan): Promise<number> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const batchSize = plan.batchSize ?? 1000
    let batch: Row[] = []
    let inserted = 0
    const flush = async (items: Row[]) => {
      const params: unknown[] = []
      const tuples = items.map((r) => {
        const n = params.push(r.id, r.email, r.hash, r.at)
        return `($${n - 3}, $${n - 2}, null, $${n - 1}, true, true, 0, $${n}, $${n})`
      })
      await client.query('begin')
      await client.query(
        `insert into users (id, email, username, password_hash, is_active, is_verified, auth_version, created_at, updated_at) values ${tuples.join(', ')}`,
        params,
      )
      await client.query('commit')
    }
    for (const row of rows(plan)) {
      batch.push(row)
      if (batch.length >= batchSize) {
        await flush(batch)
        inserted += batch.length
        batch = []
      }
    }
    if (batch.length > 0) await flush(batch)
    inserted += batch.length
    await client.query('analyze users')
    return inserted
  } finally {
    await client.end()
  }
}

/** Migrates, then seeds the users of `plan` into the database a URL names (`sqlite:` or `postgres://`). */
export async function seedUsers(url: string, plan: SeedPlan): Promise<SeedResult> {
  const started = performance.now()
  await migrateDatabase(url)
  const inserted = url.startsWith('sqlite:') ? await seedSqlite(url, plan) : await seedPostgres(url, plan)
  return { inserted, seconds: (performance.now() - started) / 1000 }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, count] = process.argv.slice(2)
  if (!url || !count || !/^\d+$/.test(count)) {
    console.error('usage: tsx bench/seed.ts <sqlite:/path.db | postgres://...> <count>')
    process.exit(2)
  }
  const result = await seedUsers(url, {
    count: Number(count),
    hashes: await precomputeHashes(),
    extraEmails: [BENCH_LOGIN_EMAIL],
  })
  console.log(JSON.stringify(result))
}
