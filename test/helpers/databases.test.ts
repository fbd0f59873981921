import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { type Kysely, sql } from 'kysely'
import { connectDatabase, detectDialect } from '../../src/persistence/kysely/connect.js'
import {
  createTestDatabase,
  redisTestUrl,
  type TestDatabase,
  testDialects,
  testRedis,
  testServerUrl,
} from './databases.js'

interface Schema {
  parents: { id: number; label: string }
  children: { id: number; parent_id: number }
}

async function createSchema(db: Kysely<Schema>): Promise<void> {
  await db.schema
    .createTable('parents')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('label', 'varchar(100)', (col) => col.notNull())
    .execute()
  await db.schema
    .createTable('children')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('parent_id', 'integer', (col) => col.notNull().references('parents.id').onDelete('cascade'))
    .execute()
}

async function tableNames(db: Kysely<Schema>): Promise<string[]> {
  return (await db.introspection.getTables()).map((table) => table.name).sort()
}

for (const { name: dialect, skip } of testDialects) {
  describe(`createTestDatabase: ${dialect}`, { skip }, () => {
    let first: TestDatabase<Schema>
    let second: TestDatabase<Schema>

    before(async () => {
      first = await createTestDatabase<Schema>(dialect)
      second = await createTestDatabase<Schema>(dialect)
    })
    after(async () => {
      await first?.destroy()
      await second?.destroy()
    })

    it('gives an empty database of the requested dialect', async () => {
      assert.equal(first.dialect, dialect)
      assert.equal(detectDialect(first.db), dialect)
      assert.deepEqual(await tableNames(first.db), [])
    })

    it('creates a table, inserts and reads back', async () => {
      await createSchema(first.db)
      await first.db
        .insertInto('parents')
        .values([
          { id: 1, label: 'one' },
          { id: 2, label: 'zwei ✓' },
        ])
        .execute()
      const rows = await first.db.selectFrom('parents').selectAll().orderBy('id').execute()
      assert.deepEqual(rows, [
        { id: 1, label: 'one' },
        { id: 2, label: 'zwei ✓' },
      ])
    })

    it('enforces foreign keys and cascades deletes', async () => {
      await first.db.insertInto('children').values({ id: 10, parent_id: 1 }).execute()
      await assert.rejects(first.db.insertInto('children').values({ id: 11, parent_id: 99 }).execute())
      await first.db.deleteFrom('parents').where('id', '=', 1).execute()
      assert.deepEqual(await first.db.selectFrom('children').selectAll().execute(), [])
    })

    it('keeps two test databases isolated', async () => {
      assert.notEqual(first.name, second.name)
      assert.notEqual(first.url, second.url)
      assert.deepEqual(await tableNames(first.db), ['children', 'parents'])
      assert.deepEqual(await tableNames(second.db), [])
      await createSchema(second.db)
      await second.db.insertInto('parents').values({ id: 7, label: 'second' }).execute()
      const firstLabels = await first.db.selectFrom('parents').select('label').execute()
      assert.deepEqual(firstLabels, [{ label: 'zwei ✓' }])
    })

    it('hands out a URL that reaches the same database', async () => {
      const other = await connectDatabase<Schema>(first.url, { poolSize: 1 })
      try {
        assert.equal(other.dialect, dialect)
        assert.deepEqual(await other.db.selectFrom('parents').select('label').execute(), [
          { label: 'zwei ✓' },
        ])
      } finally {
        await other.db.destroy()
      }
    })

    it('deletes the database on destroy', async () => {
      const doomed = await createTestDatabase<Schema>(dialect)
      await createSchema(doomed.db)
      assert.equal(await databaseExists(dialect, doomed.name), true)
      await doomed.destroy()
      await doomed.destroy() // idempotent
      assert.equal(await databaseExists(dialect, doomed.name), false)
    })
  })
}

async function databaseExists(dialect: 'sqlite' | 'postgres' | 'mysql', name: string): Promise<boolean> {
  if (dialect === 'sqlite') return existsSync(name)
  const adminUrl = testServerUrl(dialect)
  assert.ok(adminUrl)
  const { db } = await connectDatabase<unknown>(adminUrl, { poolSize: 1 })
  try {
    const query =
      dialect === 'postgres'
        ? sql<{ n: number }>`select count(*)::int as n from pg_database where datname = ${name}`
        : sql<{
            n: number
          }>`select count(*) as n from information_schema.schemata where schema_name = ${name}`
    const { rows } = await query.execute(db)
    return Number(rows[0]?.n) > 0
  } finally {
    await db.destroy()
  }
}

describe('Redis test server', { skip: testRedis.skip }, () => {
  it('answers PING and round-trips a key', async () => {
    const url = redisTestUrl()
    assert.ok(url)
    // Fail fast instead of ioredis' default of reconnecting forever when the server is down.
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
    let lastError: Error | undefined
    redis.on('error', (error: Error) => {
      lastError = error
    })
    try {
      // connect() itself only says "Connection is closed."; the 'error' event has the reason.
      await redis.connect().catch((error: unknown) => {
        throw new Error(`cannot reach Redis at ${url}: ${lastError?.message ?? String(error)}`, {
          cause: error,
        })
      })
      assert.equal(await redis.ping(), 'PONG')
      const key = `fu_test:${process.pid}:${Date.now()}`
      await redis.set(key, 'value', 'PX', 10_000)
      assert.equal(await redis.get(key), 'value')
      await redis.del(key)
    } finally {
      redis.disconnect()
    }
  })
})

describe('skip or fail rule', () => {
  const helper = fileURLToPath(new URL('./databases.ts', import.meta.url))
  // A child process, because the rule is read from the environment when the module loads.
  const probe = `
    const m = await import(${JSON.stringify(helper)})
    let error = null
    try { await m.createTestDatabase('postgres') } catch (e) { error = e.message }
    console.log(JSON.stringify({ dialects: m.testDialects, redis: m.testRedis, error }))
  `
  async function probeWith(env: Record<string, string>) {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key !== 'CI' && !key.startsWith('FASTIFY_USERS_TEST_')),
    )
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', probe],
      { env: { ...clean, ...env } },
    )
    return JSON.parse(stdout) as {
      dialects: Array<{ name: string; skip: false | string }>
      redis: { skip: false | string }
      error: string | null
    }
  }

  it('skips with instructions on a laptop without the URLs', async () => {
    const result = await probeWith({})
    assert.deepEqual(result.dialects, [
      { name: 'sqlite', skip: false },
      {
        name: 'postgres',
        skip: 'set FASTIFY_USERS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres to run the PostgreSQL suite',
      },
      {
        name: 'mysql',
        skip: 'set FASTIFY_USERS_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test to run the MySQL suite',
      },
    ])
    assert.deepEqual(result.redis, {
      skip: 'set FASTIFY_USERS_TEST_REDIS_URL=redis://127.0.0.1:6379 to run the Redis suite',
    })
  })

  it('runs, and fails loudly, in CI without the URLs', async () => {
    const result = await probeWith({ CI: 'true' })
    assert.deepEqual(
      result.dialects.map((d) => d.skip),
      [false, false, false],
    )
    assert.equal(result.redis.skip, false)
    assert.match(result.error ?? '', /FASTIFY_USERS_TEST_POSTGRES_URL is not set/)
  })

  it('runs when the URL is set', async () => {
    const result = await probeWith({ FASTIFY_USERS_TEST_MYSQL_URL: 'mysql://root@127.0.0.1:3306/test' })
    assert.equal(result.dialects.find((d) => d.name === 'mysql')?.skip, false)
  })
})
