/**
 * fastify-users in a database that already has tables of its own called `users` and `sessions`: with a
 * table prefix (or explicit names) it migrates, serves a whole journey through the plugin, and leaves the
 * application's tables untouched; invalid names are refused at start; the default names do not change.
 * SQLite always, PostgreSQL and MariaDB/MySQL when their URLs are set (in CI always).
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Kysely, sql } from 'kysely'
import fastifyUsers from '../../src/fastify/index.js'
import { ConflictError } from '../../src/kernel/errors.js'
import type { MailMessage } from '../../src/mail/mailer.js'
import type { DatabaseDialect } from '../../src/persistence/kysely/connect.js'
import {
  createKyselyRepositories,
  migrateToLatest,
  resolveTableNames,
  type TableNamesOption,
} from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { BASE_URL, cookieOf, PASSWORD, SECRET, tokenFromMail, uniqueEmail } from './build-app.js'

/** How many migrations the library has: one file each in its migrations folder. */
const LIBRARY_MIGRATIONS = readdirSync(
  new URL('../../src/persistence/kysely/migrations/', import.meta.url),
).filter((file) => /^\d{4}-.+\.ts$/.test(file)).length

type Db = Kysely<unknown>

/** The application's own tables, deliberately named like fastify-users' defaults, with other columns. */
async function createAppTables(db: Db): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('nickname', 'varchar(50)')
    .execute()
  await db.schema.createIndex('users_name_idx').on('users').column('name').execute()
  await db.schema
    .createTable('sessions')
    .addColumn('token', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('data', 'varchar(255)')
    .execute()
  await sql`insert into users (id, name, nickname) values (1, 'Grace', 'amazing'), (2, 'Alan', null)`.execute(
    db,
  )
  await sql`insert into sessions (token, data) values ('app-token', '{"cart":3}')`.execute(db)
}

/** Everything in the application's tables, to compare before and after. */
async function appSnapshot(db: Db): Promise<unknown> {
  const users = await sql`select id, name, nickname from users order by id`.execute(db)
  const sessions = await sql`select token, data from sessions order by token`.execute(db)
  const tables = await db.introspection.getTables()
  const columns = (name: string) =>
    tables
      .find((t) => t.name === name)
      ?.columns.map((c) => c.name)
      .sort()
  return {
    users: users.rows.map((r) => ({ ...(r as object), id: Number((r as { id: unknown }).id) })),
    sessions: sessions.rows,
    usersColumns: columns('users'),
    sessionsColumns: columns('sessions'),
  }
}

async function tableNames(db: Db): Promise<string[]> {
  return (await db.introspection.getTables()).map((t) => t.name).sort()
}

async function indexNames(db: Db, dialect: DatabaseDialect): Promise<string[]> {
  const query =
    dialect === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'index'`
      : dialect === 'postgres'
        ? sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`
        : sql<{
            name: string
          }>`select distinct index_name as name from information_schema.statistics where table_schema = database()`
  return (await query.execute(db)).rows.map((r) => String(r.name))
}

async function countRows(db: Db, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    db,
  )
  return Number(rows[0]?.n)
}

async function startApp(
  database: TestDatabase<unknown>,
  tables: TableNamesOption | undefined,
  mails: MailMessage[],
): Promise<FastifyInstance> {
  const usersTable = resolveTableNames(tables).users
  const app = Fastify()
  await app.register(fastifyUsers, {
    secret: SECRET,
    database: database.url,
    migrate: true,
    tables,
    userFields: { displayName: { type: 'string', maxLength: 100 } },
    migrations: {
      '0001-display-name': {
        up: (db) => db.schema.alterTable(usersTable).addColumn('display_name', 'varchar(100)').execute(),
      },
    },
    mailer: {
      async send(message) {
        mails.push(message)
      },
    },
    baseUrl: BASE_URL,
    rateLimit: false,
  })
  await app.ready()
  return app
}

describe('table names: resolving and refusing', () => {
  it('defaults to the names of every earlier version', () => {
    assert.deepEqual(
      { ...resolveTableNames() },
      {
        users: 'users',
        roles: 'roles',
        userRoles: 'user_roles',
        sessions: 'sessions',
        revokedTokens: 'revoked_tokens',
        loginAttempts: 'login_attempts',
        mailCap: 'mail_cap',
        oauthAccounts: 'oauth_accounts',
        refreshTokens: 'refresh_tokens',
        userTotp: 'user_totp',
        stepUpProofs: 'step_up_proofs',
        passkeys: 'passkeys',
        passkeyChallenges: 'passkey_challenges',
        migration: 'fastify_users_migration',
        migrationLock: 'fastify_users_migration_lock',
        appMigration: 'fastify_users_app_migration',
        appMigrationLock: 'fastify_users_app_migration_lock',
      },
    )
    assert.deepEqual(resolveTableNames({}), resolveTableNames(undefined))
    assert.deepEqual(resolveTableNames({ prefix: '' }), resolveTableNames())
  })

  it('prefixes every table and the migration records; explicit names win over the prefix', () => {
    const names = resolveTableNames({ prefix: 'auth_', users: 'account_holders' })
    assert.equal(names.users, 'account_holders')
    assert.equal(names.roles, 'auth_roles')
    assert.equal(names.userRoles, 'auth_user_roles')
    assert.equal(names.mailCap, 'auth_mail_cap')
    assert.equal(names.migration, 'auth_fastify_users_migration')
    assert.equal(names.appMigrationLock, 'auth_fastify_users_app_migration_lock')
    // Two names may trade places: the renaming is one pass.
    const swapped = resolveTableNames({ users: 'roles', roles: 'users' })
    assert.equal(swapped.users, 'roles')
    assert.equal(swapped.roles, 'users')
  })

  const refused: Array<[TableNamesOption, RegExp]> = [
    [{ prefix: 'Auth_' }, /`tables\.prefix` must be lower-case letters/],
    [{ prefix: 'auth-' }, /`tables\.prefix` must be lower-case letters/],
    [{ prefix: '1auth_' }, /`tables\.prefix`/],
    [{ prefix: 'auth"; drop table users; --' }, /`tables\.prefix`/],
    [{ users: '' }, /`tables\.users` must be a table name/],
    [{ users: 'public.users' }, /`tables\.users` must be a table name/],
    [{ users: 'app users' }, /`tables\.users`/],
    [{ users: 42 } as unknown as TableNamesOption, /`tables\.users`/],
    [{ user: 'x' } as unknown as TableNamesOption, /`tables\.user` is unknown/],
    [
      { prefix: 'p'.repeat(30) },
      /`tables\.prefix` gives the name "fu_p+login_attempts_last_failure_idx" \(64 characters\)/,
    ],
    [{ users: 'u'.repeat(64) }, /`tables\.users` gives the name "u{64}" \(64 characters\); .* limited to 63/],
    [{ sessions: 's'.repeat(50) }, /`tables\.sessions` gives the name "fu_s{50}_expires_idx"/],
    [{ users: 'roles' }, /names two tables "roles" \(users and roles\)/],
    [{ users: 'fastify_users_migration' }, /names two tables "fastify_users_migration"/],
    ['auth_' as unknown as TableNamesOption, /`tables` must be an object/],
  ]
  for (const [option, message] of refused) {
    it(`refuses ${JSON.stringify(option)}`, () => {
      assert.throws(
        () => resolveTableNames(option),
        (error: unknown) => error instanceof TypeError && message.test(error.message),
      )
    })
  }

  it('the longest prefix that fits is accepted', () => {
    assert.equal(
      resolveTableNames({ prefix: 'p'.repeat(29) }).loginAttempts,
      `${'p'.repeat(29)}login_attempts`,
    )
  })

  it('the plugin refuses invalid names at registration, before touching the database', async () => {
    const app = Fastify()
    await assert.rejects(
      async () => {
        await app.register(fastifyUsers, {
          secret: SECRET,
          // Never reached: the options are checked first.
          database: 'postgres://nobody@127.0.0.1:1/none',
          connectTimeoutMs: 0,
          migrate: true,
          tables: { prefix: 'auth-' },
        })
        await app.ready()
      },
      (error: unknown) => error instanceof TypeError && /`tables\.prefix`/.test(error.message),
    )
    await app.close()
  })

  it('migrateToLatest refuses invalid names before running anything', async () => {
    const database = await createTestDatabase('sqlite')
    try {
      await assert.rejects(() => migrateToLatest(database.db, { tables: { users: 'Users' } }), TypeError)
      assert.deepEqual(await tableNames(database.db), [])
    } finally {
      await database.destroy()
    }
  })
})

for (const { name: dialect, skip } of testDialects) {
  describe(`a database that already has users and sessions tables, on ${dialect}`, { skip }, () => {
    let database: TestDatabase<unknown>
    let before_: unknown
    let app: FastifyInstance | undefined
    const mails: MailMessage[] = []

    before(async () => {
      database = await createTestDatabase(dialect)
      await createAppTables(database.db)
      before_ = await appSnapshot(database.db)
    })
    after(async () => {
      await app?.close()
      await database?.destroy()
    })

    it('without table names the first migration fails, says what to do, and changes nothing', async () => {
      await assert.rejects(
        () => migrateToLatest(database.db),
        /0001-initial failed: .*give fastify-users' tables other names with the `tables` option/s,
      )
      assert.deepEqual(await appSnapshot(database.db), before_)
      const left = (await tableNames(database.db)).filter((t) => t !== 'users' && t !== 'sessions')
      // The migration table itself may remain (empty); no fastify-users data table does.
      assert.deepEqual(
        left.filter((t) => !t.startsWith('fastify_users_migration')),
        [],
      )
    })

    it('with a prefix: migrates into prefixed tables, indexes and migration records', async () => {
      app = await startApp(database, { prefix: 'auth_' }, mails)
      const tables = await tableNames(database.db)
      for (const table of [
        'auth_users',
        'auth_roles',
        'auth_user_roles',
        'auth_sessions',
        'auth_revoked_tokens',
        'auth_login_attempts',
        'auth_mail_cap',
        'auth_oauth_accounts',
        'auth_refresh_tokens',
        'auth_user_totp',
        'auth_step_up_proofs',
        'auth_passkeys',
        'auth_passkey_challenges',
        'auth_fastify_users_migration',
        'auth_fastify_users_app_migration',
      ]) {
        assert.ok(tables.includes(table), `${table} exists (tables: ${tables.join(', ')})`)
      }
      assert.ok(!tables.includes('roles'), 'no unprefixed fastify-users table')
      const indexes = await indexNames(database.db, dialect)
      const expected = [
        'fu_auth_users_created_at_idx',
        'fu_auth_sessions_user_idx',
        'fu_auth_mail_cap_window_idx',
        'fu_auth_oauth_accounts_user_idx',
        'fu_auth_passkeys_user_idx',
        'fu_auth_passkey_challenges_expires_idx',
      ]
      // SQLite names the indexes behind table constraints itself (sqlite_autoindex_...).
      if (dialect !== 'sqlite') expected.push('fu_auth_users_email_uq', 'fu_auth_roles_name_uq')
      for (const index of expected) assert.ok(indexes.includes(index), `${index} exists`)
      assert.ok(!indexes.some((index) => index.startsWith('fu_users_')), 'no index of the default names')
      assert.equal(await countRows(database.db, 'auth_fastify_users_migration'), LIBRARY_MIGRATIONS)
      const columns = (await database.db.introspection.getTables())
        .find((t) => t.name === 'auth_users')
        ?.columns.map((c) => c.name)
      assert.ok(columns?.includes('display_name'), "the app's migration ran on the prefixed users table")
      assert.deepEqual(await appSnapshot(database.db), before_)
    })

    it('register, verify, log in, read, log out: the application tables stay untouched', async () => {
      assert.ok(app)
      const email = uniqueEmail('prefixed')
      const registered = await app.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD, displayName: 'Ada' },
      })
      assert.equal(registered.statusCode, 202, registered.body)
      await app.users.settled()
      const mail = mails.filter((m) => m.to === email).at(-1)
      assert.ok(mail, 'a verification mail was sent')
      const verified = await app.inject({
        method: 'POST',
        url: '/verify',
        payload: { token: tokenFromMail(mail), password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200, verified.body)

      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const cookie = cookieOf(login, '__Host-fastify-users-session')
      assert.ok(cookie)
      const headers = { cookie: `${cookie.name}=${cookie.value}` }
      const me = await app.inject({ method: 'GET', url: '/users/me', headers })
      assert.equal(me.statusCode, 200, me.body)
      assert.equal(JSON.parse(me.body).displayName, 'Ada')
      assert.equal(await countRows(database.db, 'auth_sessions'), 1)

      const wrong = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: 'wrong one' },
      })
      assert.equal(wrong.statusCode, 401)
      assert.ok((await countRows(database.db, 'auth_login_attempts')) >= 1, 'the failure is counted')

      assert.equal((await app.inject({ method: 'POST', url: '/logout', headers })).statusCode, 204)
      assert.equal((await app.inject({ method: 'GET', url: '/users/me', headers })).statusCode, 401)
      assert.equal(await countRows(database.db, 'auth_sessions'), 0)
      assert.equal(await countRows(database.db, 'auth_users'), 1)
      assert.deepEqual(await appSnapshot(database.db), before_)
    })

    it('roles, links and conflicts work on the prefixed tables', async () => {
      assert.ok(app)
      const user = await app.users.addUser({ email: uniqueEmail('roles'), password: PASSWORD } as never, {
        verify: true,
      })
      const role = await app.users.addRole({ name: 'editor' })
      const withRole = await app.users.assignRole(user.id, role.id)
      assert.deepEqual(
        withRole.roles.map((r) => r.name),
        ['editor'],
      )
      assert.equal(await countRows(database.db, 'auth_user_roles'), 1)
      // The service checks names first; the repositories meet the renamed unique constraints themselves,
      // and the conflict must still name the field.
      const repositories = createKyselyRepositories(database.db, { tables: { prefix: 'auth_' } })
      await assert.rejects(
        () => repositories.roleRepository.insert({ name: 'editor' }),
        (error: unknown) => error instanceof ConflictError && error.field === 'name',
      )
      await assert.rejects(
        () =>
          repositories.userRepository.insert({
            email: user.email,
            passwordHash: 'x',
            isActive: true,
            isVerified: true,
          }),
        (error: unknown) => error instanceof ConflictError && error.field === 'email',
      )
      assert.equal(await repositories.roleRepository.assign(user.id, role.id), false, 'already assigned')
      const page = await app.users.listUsers({})
      assert.equal(page.total, 2)
      await app.users.deleteUser(user.id)
      assert.equal(await countRows(database.db, 'auth_user_roles'), 0)
      assert.deepEqual(await appSnapshot(database.db), before_)
    })

    it('integer ids and the role filter, through the repositories on other prefixed tables', async () => {
      // A second installation in the same database, under another prefix: nothing is shared.
      const tables = { prefix: 'int_' }
      await migrateToLatest(database.db, { idType: 'integer', tables })
      const repositories = createKyselyRepositories(database.db, { idType: 'integer', tables })
      const ada = await repositories.userRepository.insert({
        email: 'ada@example.com',
        passwordHash: 'x',
        isActive: true,
        isVerified: true,
      })
      const bob = await repositories.userRepository.insert({
        email: 'bob@example.com',
        passwordHash: 'x',
        isActive: true,
        isVerified: false,
      })
      assert.equal(typeof ada.id, 'number')
      assert.notEqual(ada.id, bob.id)
      const role = await repositories.roleRepository.insert({ name: 'editor' })
      assert.equal(await repositories.roleRepository.assign(bob.id, role.id), true)
      assert.deepEqual(
        (await repositories.userRepository.findById(bob.id))?.roles.map((r) => r.name),
        ['editor'],
      )
      const editors = await repositories.userRepository.list({ filters: { role: 'editor' }, limit: 10 })
      assert.deepEqual(
        editors.items.map((u) => u.email),
        ['bob@example.com'],
      )
      assert.equal(editors.total, 1)
      assert.equal(await countRows(database.db, 'int_users'), 2)
      assert.equal(await countRows(database.db, 'int_fastify_users_migration'), LIBRARY_MIGRATIONS)
      // The first installation and the application's tables are untouched.
      assert.equal(await countRows(database.db, 'auth_user_roles'), 0)
      assert.deepEqual(await appSnapshot(database.db), before_)
    })

    it('a restart with the same prefix finds everything already migrated', async () => {
      await app?.close()
      app = await startApp(database, { prefix: 'auth_' }, mails)
      assert.equal(await countRows(database.db, 'auth_fastify_users_migration'), LIBRARY_MIGRATIONS)
      assert.equal(await countRows(database.db, 'auth_users'), 1)
    })
  })
}

describe('explicit names and the default names, on SQLite', () => {
  it('explicit names are used exactly, with a prefix for the rest', async () => {
    const database = await createTestDatabase('sqlite')
    const mails: MailMessage[] = []
    let app: FastifyInstance | undefined
    try {
      await createAppTables(database.db)
      const before_ = await appSnapshot(database.db)
      app = await startApp(database, { prefix: 'fu_', users: 'account_holders', sessions: 'logins' }, mails)
      const tables = await tableNames(database.db)
      for (const table of [
        'account_holders',
        'logins',
        'fu_roles',
        'fu_user_roles',
        'fu_fastify_users_migration',
      ]) {
        assert.ok(tables.includes(table), `${table} exists`)
      }
      const user = await app.users.addUser({ email: uniqueEmail('explicit'), password: PASSWORD } as never, {
        verify: true,
      })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: user.email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200)
      assert.equal(await countRows(database.db, 'account_holders'), 1)
      assert.equal(await countRows(database.db, 'logins'), 1)
      assert.deepEqual(await appSnapshot(database.db), before_)
    } finally {
      await app?.close()
      await database.destroy()
    }
  })

  it('without the option, the tables, indexes and migration records keep their names', async () => {
    const database = await createTestDatabase('sqlite')
    try {
      await migrateToLatest(database.db)
      assert.deepEqual(await tableNames(database.db), [
        'fastify_users_migration',
        'fastify_users_migration_lock',
        'login_attempts',
        'mail_cap',
        'oauth_accounts',
        'passkey_challenges',
        'passkeys',
        'refresh_tokens',
        'revoked_tokens',
        'roles',
        'sessions',
        'step_up_proofs',
        'user_roles',
        'user_totp',
        'users',
      ])
      const indexes = await indexNames(database.db, 'sqlite')
      for (const index of [
        'fu_users_email_uq',
        'fu_users_username_uq',
        'fu_users_created_at_idx',
        'fu_roles_name_uq',
        'fu_user_roles_pk',
        'fu_user_roles_role_idx',
        'fu_sessions_user_idx',
        'fu_sessions_expires_idx',
        'fu_revoked_tokens_expires_idx',
        'fu_login_attempts_last_failure_idx',
        'fu_mail_cap_window_idx',
        'fu_oauth_accounts_user_idx',
        'fu_refresh_tokens_family_idx',
        'fu_refresh_tokens_user_idx',
        'fu_refresh_tokens_expires_idx',
        'fu_passkeys_user_idx',
        'fu_passkey_challenges_expires_idx',
      ]) {
        // SQLite names the indexes of table constraints itself; the explicit ones keep their names.
        if (index.endsWith('_uq') || index.endsWith('_pk')) continue
        assert.ok(indexes.includes(index), `${index} exists`)
      }
      const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where name = 'users'`.execute(
        database.db,
      )
      assert.match(rows[0]?.sql ?? '', /"fu_users_email_uq"/)
      assert.deepEqual((await migrateToLatest(database.db, { tables: {} })).executed, [])
    } finally {
      await database.destroy()
    }
  })
})
