/**
 * Driver faults become core errors: connection-level failures of every driver are a
 * `DatabaseUnavailableError` (503), other errors pass through untouched; SQLite write transactions wait for
 * another process's lock (BEGIN IMMEDIATE + busy timeout) and become a 503, not a 500, when it outlasts the
 * timeout. And list cursors are checked completely against the sort column and the id type.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Kysely, sql } from 'kysely'
import { DatabaseUnavailableError, ValidationError } from '../../src/kernel/errors.js'
import { connectDatabase } from '../../src/persistence/kysely/connect.js'
import { decodeUserCursor, encodeUserCursor } from '../../src/persistence/kysely/cursor.js'
import { isUnavailable, translateDriverError } from '../../src/persistence/kysely/driver-errors.js'

const err = (props: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), props)

describe('isUnavailable', () => {
  it('recognises connection faults of pg, mysql2, better-sqlite3 and Node sockets', () => {
    for (const e of [
      err({ code: 'ECONNREFUSED' }),
      err({ code: 'ECONNRESET' }),
      err({ code: '57P01' }, 'terminating connection due to administrator command'),
      err({ code: '57P03' }),
      err({ code: '08006' }),
      err({ code: '53300' }),
      err({}, 'Connection terminated unexpectedly'),
      err({}, 'timeout exceeded when trying to connect'),
      err({ code: 'PROTOCOL_CONNECTION_LOST' }),
      err({ errno: 1927, code: 'ER_CONNECTION_KILLED' }),
      err({ errno: 2013 }),
      err({ code: 'SQLITE_BUSY' }),
      err({ code: 'SQLITE_BUSY_SNAPSHOT' }),
      Object.assign(new AggregateError([err({ code: 'ECONNREFUSED' })]), {}),
    ]) {
      assert.ok(isUnavailable(e), `${String((e as { code?: string }).code)} ${e.message}`)
      assert.ok(translateDriverError(e) instanceof DatabaseUnavailableError)
    }
  })

  it('leaves query errors alone', () => {
    for (const e of [
      err({ code: '23505' }),
      err({ code: '42P01' }),
      err({ errno: 1062, code: 'ER_DUP_ENTRY' }),
      err({ code: 'SQLITE_CONSTRAINT_UNIQUE' }),
      err({}, 'syntax error'),
      null,
      'text',
    ]) {
      assert.equal(isUnavailable(e), false)
      assert.equal(translateDriverError(e), e)
    }
  })

  it('turns text PostgreSQL cannot store into a ValidationError', () => {
    assert.ok(translateDriverError(err({ code: '22021' })) instanceof ValidationError)
  })
})

/**
 * Holds SQLite's write lock on `file` from another process for `holdMs`, then commits a row. better-sqlite3
 * waits for a lock synchronously, so the holder must be another process, as in production.
 */
async function holdWriteLock(file: string, holdMs: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('begin immediate');
       console.log('locked'); setTimeout(() => { db.exec('insert into t values (1); commit'); db.close() }, ${holdMs})`,
      file,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string]
  assert.match(line, /locked/)
  return child
}

describe('SQLite write transactions and another process holding the lock', () => {
  const file = join(tmpdir(), `fu_test_${randomBytes(6).toString('hex')}.db`)
  let db: Kysely<unknown>
  before(async () => {
    db = (await connectDatabase<unknown>(`sqlite:${file}`)).db
    await sql`create table t (n integer)`.execute(db)
  })
  after(async () => {
    await db?.destroy()
    await Promise.all([file, `${file}-wal`, `${file}-shm`].map((path) => rm(path, { force: true })))
  })

  it('a transaction that reads first waits for the lock instead of failing (BEGIN IMMEDIATE)', async () => {
    const holder = await holdWriteLock(file, 300)
    const n = await db.transaction().execute(async (trx) => {
      const rows = await sql<{ c: number }>`select count(*) as c from t`.execute(trx)
      await sql`insert into t values (2)`.execute(trx)
      return rows.rows[0]?.c
    })
    // It began after the other writer committed, so it saw that row.
    assert.equal(n, 1)
    await once(holder, 'exit')
  })

  it('a lock held past the busy timeout is a DatabaseUnavailableError (503), not a driver error', async () => {
    const holder = await holdWriteLock(file, 7_000)
    try {
      await assert.rejects(
        db.transaction().execute((trx) => sql`insert into t values (3)`.execute(trx)),
        DatabaseUnavailableError,
      )
    } finally {
      holder.kill()
    }
  })
})

describe('list cursors', () => {
  const uuid = '01900000-0000-7000-8000-000000000000'
  type Field = 'createdAt' | 'updatedAt' | 'email' | 'id'
  const asc = (field: Field) => ({ field, direction: 'asc' as const })
  // The digest of "no filters", read from a cursor the server issued, so crafted parts are bound correctly
  // and only the part under test is wrong.
  const digest = (
    JSON.parse(Buffer.from(encodeUserCursor(asc('id'), 'integer', 1, 1), 'base64url').toString()) as unknown[]
  )[4]
  const b64 = (value: unknown[], field: Field = 'createdAt') =>
    Buffer.from(JSON.stringify([...value, field, 'asc', digest])).toString('base64url')
  const raw = (text: string) => Buffer.from(text).toString('base64url')

  it('round-trips what the server issues, for every order and id type (bigint strings included)', () => {
    assert.deepEqual(
      decodeUserCursor(
        encodeUserCursor(asc('createdAt'), 'uuid', '1732000000000', uuid),
        asc('createdAt'),
        'uuid',
      ),
      [1732000000000, uuid],
    )
    assert.deepEqual(
      decodeUserCursor(encodeUserCursor(asc('email'), 'integer', 'a@b.co', '42'), asc('email'), 'integer'),
      ['a@b.co', 42],
    )
    assert.deepEqual(
      decodeUserCursor(encodeUserCursor(asc('id'), 'integer', 7, 7), asc('id'), 'integer'),
      [7, 7],
    )
  })

  it('refuses a cursor used under another sort field, direction or filter than the one that made it', () => {
    const scope = {
      field: 'email' as const,
      direction: 'desc' as const,
      filters: { email: 'x', role: undefined },
    }
    const issued = encodeUserCursor(scope, 'uuid', 'a@b.co', uuid)
    // Same filters in another key order, absent ones dropped: the same list.
    assert.deepEqual(
      decodeUserCursor(issued, { ...scope, filters: { role: undefined, email: 'x' } }, 'uuid'),
      ['a@b.co', uuid],
    )
    for (const other of [
      { ...scope, field: 'createdAt' as const },
      { ...scope, field: 'updatedAt' as const },
      { ...scope, direction: 'asc' as const },
      { ...scope, filters: {} },
      { ...scope, filters: { email: 'y' } },
      { ...scope, filters: { email: 'x', isActive: true } },
    ]) {
      assert.throws(
        () => decodeUserCursor(issued, other, 'uuid'),
        (err) => err instanceof ValidationError && err.field === 'cursor',
        JSON.stringify(other),
      )
    }
    // The old two-part form carried no sort: refused.
    assert.throws(() => decodeUserCursor(raw(`["a@b.co","${uuid}"]`), scope, 'uuid'), ValidationError)
  })

  it('refuses every part of the wrong type, non-finite, unsafe, oversized or with NUL', () => {
    const bad: Array<[string, Field, 'uuid' | 'integer']> = [
      [b64(['abc', uuid]), 'createdAt', 'uuid'],
      [b64([1.5, uuid]), 'createdAt', 'uuid'],
      [raw(`[1e400,"${uuid}","createdAt","asc",${JSON.stringify(digest)}]`), 'createdAt', 'uuid'],
      [b64([2 ** 53, uuid], 'updatedAt'), 'updatedAt', 'uuid'],
      [b64([1, 'x']), 'createdAt', 'uuid'],
      [b64([1, 1.5]), 'createdAt', 'integer'],
      [b64([1, 0]), 'createdAt', 'integer'],
      [b64([1, 2 ** 60]), 'createdAt', 'integer'],
      [raw(`[1,1e400,"createdAt","asc",${JSON.stringify(digest)}]`), 'createdAt', 'integer'],
      [b64([1, uuid], 'email'), 'email', 'uuid'],
      [b64(['a\u0000', uuid], 'email'), 'email', 'uuid'],
      [b64(['x'.repeat(321), uuid], 'email'), 'email', 'uuid'],
      [b64([1.5, 1], 'id'), 'id', 'integer'],
      [b64([1, 1, 1]), 'createdAt', 'integer'],
      ['A'.repeat(3000), 'createdAt', 'uuid'],
      ['%%%', 'createdAt', 'uuid'],
    ]
    for (const [cursor, field, idType] of bad) {
      assert.throws(
        () => decodeUserCursor(cursor, asc(field), idType),
        ValidationError,
        `${cursor} ${field} ${idType}`,
      )
    }
  })
})
