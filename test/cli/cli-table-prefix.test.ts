/**
 * The built `fastify-users` CLI on prefixed tables (`--table-prefix` or `FASTIFY_USERS_TABLE_PREFIX`), in a
 * database that already has a `users` table of its own, which every command leaves untouched. SQLite
 * always; PostgreSQL and MySQL when their URLs are set (always in CI).
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { assertBuilt, type CliRun, runCliProcess } from './cli-process.js'

/** How many migrations the library has: one file each in its migrations folder. */
const LIBRARY_MIGRATIONS = readdirSync(
  new URL('../../src/persistence/kysely/migrations/', import.meta.url),
).filter((file) => /^\d{4}-.+\.ts$/.test(file)).length

const PASSWORD = 'correct horse battery staple'

before(() => assertBuilt())

function expectOk(run: CliRun, stdout?: RegExp): void {
  assert.equal(run.code, 0, `exit code 0 expected; stderr: ${run.stderr}`)
  assert.equal(run.stderr, '')
  if (stdout) assert.match(run.stdout, stdout)
}

function expectFailure(run: CliRun, code: number, stderr: RegExp): void {
  assert.equal(run.code, code, `exit code ${code} expected; stdout: ${run.stdout}; stderr: ${run.stderr}`)
  assert.match(run.stderr, stderr)
  assert.equal(run.stdout, '')
}

async function count(database: TestDatabase<unknown>, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    database.db,
  )
  return Number(rows[0]?.n)
}

async function appUsers(database: TestDatabase<unknown>): Promise<unknown[]> {
  const { rows } = await sql<{ id: unknown; name: string }>`select id, name from users order by id`.execute(
    database.db,
  )
  return rows.map((r) => ({ id: Number(r.id), name: r.name }))
}

for (const { name, skip } of testDialects) {
  describe(`fastify-users CLI with a table prefix on ${name}`, { skip }, () => {
    let database: TestDatabase<unknown>
    /** Runs with the prefix from the environment, as a deployment would set it once. */
    let run: (...args: string[]) => Promise<CliRun>
    /** Runs without any prefix. */
    let plain: (...args: string[]) => Promise<CliRun>
    const appRows = [
      { id: 1, name: 'Grace' },
      { id: 2, name: 'Alan' },
    ]

    before(async () => {
      database = await createTestDatabase(name)
      await database.db.schema
        .createTable('users')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .execute()
      await sql`insert into users (id, name) values (1, 'Grace'), (2, 'Alan')`.execute(database.db)
      run = (...args) =>
        runCliProcess(args, { env: { DATABASE_URL: database.url, FASTIFY_USERS_TABLE_PREFIX: 'auth_' } })
      plain = (...args) =>
        runCliProcess(args, { env: { DATABASE_URL: database.url, FASTIFY_USERS_TABLE_PREFIX: '' } })
    })
    after(() => database?.destroy())

    it("does not mistake the application's users table for its own", async () => {
      expectFailure(
        await plain('list-users'),
        1,
        /no fastify-users tables; run `fastify-users migrate` first/,
      )
      expectFailure(await run('list-users'), 1, /has no table auth_users; run `fastify-users migrate` first/)
    })

    it('refuses an invalid prefix with a usage error, changing nothing', async () => {
      expectFailure(
        await plain('migrate', '--table-prefix', 'Auth-'),
        2,
        /--table-prefix \(or FASTIFY_USERS_TABLE_PREFIX\) must be lower-case letters/,
      )
      expectFailure(
        await runCliProcess(['list-users'], {
          env: { DATABASE_URL: database.url, FASTIFY_USERS_TABLE_PREFIX: 'x'.repeat(40) },
        }),
        2,
        /characters\); database identifiers are limited to 63/,
      )
      const tables = (await database.db.introspection.getTables()).map((t) => t.name)
      assert.deepEqual(tables, ['users'])
    })

    it('migrate --table-prefix creates the prefixed tables; the environment variable finds them again', async () => {
      expectOk(
        await plain('migrate', '--table-prefix', 'auth_'),
        new RegExp(`Applied ${LIBRARY_MIGRATIONS} migration\\(s\\) .*\\(uuid ids\\): 0001-initial`),
      )
      expectOk(await run('migrate'), /Nothing to do/)
      const tables = (await database.db.introspection.getTables()).map((t) => t.name)
      for (const table of [
        'auth_users',
        'auth_roles',
        'auth_user_roles',
        'auth_sessions',
        'auth_fastify_users_migration',
      ]) {
        assert.ok(tables.includes(table), `${table} exists`)
      }
      assert.ok(!tables.includes('roles'))
      assert.deepEqual(await appUsers(database), appRows)
    })

    it('create-user, create-role, assign-role, list-users and delete-user work on the prefixed tables', async () => {
      await sql`alter table auth_users add column display_name varchar(100)`.execute(database.db)
      expectOk(
        await run(
          'create-user',
          '--email',
          'ada@example.com',
          '--password',
          PASSWORD,
          '--verified',
          '--str-attrs',
          'displayName=Ada',
        ),
      )
      expectOk(await run('create-role', 'admin'))
      expectOk(await run('assign-role', '--email', 'ada@example.com', '--role', 'admin'))
      assert.equal(await count(database, 'auth_users'), 1)
      assert.equal(await count(database, 'auth_user_roles'), 1)

      const listed = JSON.parse((await run('list-users', '--json')).stdout) as {
        items: Array<{ email: string; roles: Array<{ name: string }>; displayName: string }>
      }
      assert.deepEqual(
        listed.items.map((u) => [u.email, u.roles.map((r) => r.name), u.displayName]),
        [['ada@example.com', ['admin'], 'Ada']],
      )
      expectFailure(await run('create-role', 'admin'), 1, /already exists/)
      expectOk(await run('delete-user', '--email', 'ada@example.com', '--force'))
      assert.equal(await count(database, 'auth_users'), 0)
      assert.deepEqual(await appUsers(database), appRows)
    })

    it('--tables (or FASTIFY_USERS_TABLES) takes the JSON of the tables option, explicit names included', async () => {
      const tables =
        (json: string) =>
        (...args: string[]) =>
          runCliProcess(args, { env: { DATABASE_URL: database.url, FASTIFY_USERS_TABLES: json } })
      const named = tables('{"prefix":"cli_","users":"cli_people"}')
      expectOk(await named('migrate'), new RegExp(`Applied ${LIBRARY_MIGRATIONS} migration\\(s\\)`))
      expectOk(await named('create-user', '--email', 'eve@example.com', '--password', PASSWORD))
      assert.equal(await count(database, 'cli_people'), 1)
      assert.equal(await count(database, 'cli_fastify_users_migration'), LIBRARY_MIGRATIONS)
      const listed = JSON.parse((await named('list-users', '--json')).stdout) as {
        items: Array<{ email: string }>
      }
      assert.deepEqual(
        listed.items.map((u) => u.email),
        ['eve@example.com'],
      )
      // The flag form, and a prefix given both ways that agrees.
      expectOk(
        await plain('list-users', '--tables', '{"users":"cli_people"}', '--table-prefix', 'cli_'),
        /eve@example\.com/,
      )

      expectFailure(
        await tables('{users:')('list-users'),
        2,
        /--tables \(or FASTIFY_USERS_TABLES\) must be JSON/,
      )
      expectFailure(await tables('["users"]')('list-users'), 2, /must be a JSON object/)
      expectFailure(
        await tables('{"users":"People"}')('list-users'),
        2,
        /--tables \(or FASTIFY_USERS_TABLES\): "users" must be a table name of lower-case letters/,
      )
      expectFailure(await tables('{"user":"people"}')('list-users'), 2, /"user" is unknown/)
      expectFailure(
        await plain('list-users', '--tables', '{"prefix":"cli_"}', '--table-prefix', 'auth_'),
        2,
        /--table-prefix "auth_" and the prefix "cli_" of --tables disagree/,
      )
      assert.deepEqual(await appUsers(database), appRows)
    })
  })
}
