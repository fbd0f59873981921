/**
 * Regression: on MySQL/MariaDB the identifier columns took the server's accent- and case-insensitive
 * default collation, so `álice@example.com`, `alicè@...` and `alice@exámple.com` logged in to
 * `alice@example.com`, each with a throttle key of its own (guesses went on while the real identifier
 * was throttled). Identifiers must compare exactly on every database, for new schemas and for databases
 * migrated from an older version, and the lookup and the throttle key come from one canonicalisation.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Kysely, Migrator, sql } from 'kysely'
import { foldIdentifier } from '../../src/core/identifiers.js'
import { loginAttemptKey } from '../../src/core/user-service.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { initialMigration } from '../../src/persistence/kysely/migrations/0001-initial.js'
import { loginAttemptsMigration } from '../../src/persistence/kysely/migrations/0002-login-attempts.js'
import { buildApp, PASSWORD, type TestApp } from '../fastify/build-app.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'

/** Accented and otherwise folded variants that a case- and accent-insensitive collation equates. */
function variantsOf(email: string): string[] {
  // email is `alice.<...>@example.com`
  return [
    email.replace('alice', 'álice'),
    email.replace('alice', 'alicè'),
    email.replace('@example', '@exámple'),
    email.replace('alice', 'ÄLICE'),
  ]
}

describe('one canonicalisation for lookup and throttle key', () => {
  it('loginAttemptKey hashes exactly what foldIdentifier yields', () => {
    for (const raw of ['  Alice@Example.COM ', 'Ａlice@example.com', 'álice@example.com']) {
      assert.equal(loginAttemptKey(raw), loginAttemptKey(foldIdentifier(raw)))
    }
    assert.notEqual(loginAttemptKey('álice@example.com'), loginAttemptKey('alice@example.com'))
  })
})

for (const { name: dialect, skip } of testDialects) {
  describe(`identifiers compare exactly on ${dialect}`, { skip }, () => {
    let t: TestApp
    let email: string
    before(async () => {
      t = await buildApp({ backend: 'session', dialect, loginThrottle: { freeAttempts: 3 } })
      email = `alice.${dialect}.${process.pid}@example.com`
      await t.createUser({ email })
    })
    after(() => t?.destroy())

    it('accented variants neither log in nor find the user', async () => {
      for (const variant of variantsOf(email)) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: variant, password: PASSWORD },
        })
        assert.equal(res.statusCode, 401, `${variant} must not log in to ${email}: ${res.statusCode}`)
        assert.equal(await t.app.users.getUserBy({ email: variant }), null, `${variant} finds nobody`)
      }
      assert.ok(
        await t.app.users.getUserBy({ email: email.toUpperCase() }),
        'case is still folded by the core',
      )
    })

    it('accented variants share nothing with the throttle of the real identifier', async () => {
      // Throttle the real identifier...
      let throttled = false
      for (let i = 0; i < 6 && !throttled; i++) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'wrong password' },
        })
        throttled = res.statusCode === 429
      }
      assert.ok(throttled, 'the real identifier is throttled')
      // ...then the right password through a variant must not get in (it used to, on MySQL/MariaDB).
      for (const variant of variantsOf(email)) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email: variant, password: PASSWORD },
        })
        assert.notEqual(res.statusCode, 200, `${variant} got past the throttle of ${email}`)
      }
      const real = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
      assert.equal(real.statusCode, 429, 'the real identifier is still throttled, by its own key')
      t.clock.advance(3600)
      await t.login(email)
    })

    it('usernames and role names compare exactly too', async () => {
      await t.app.users.addRole({ name: 'editor' })
      assert.equal(await t.app.users.getRoleByName('éditor'), null)
      assert.ok(await t.app.users.getRoleByName('EDITOR'))
      await t.app.users.addRole({ name: 'éditor' }) // another role, not a duplicate
    })
  })

  describe(`a database migrated from before the collation fix on ${dialect}`, { skip }, () => {
    let database: TestDatabase<unknown>
    before(async () => {
      database = await createTestDatabase<unknown>(dialect)
    })
    after(() => database?.destroy())

    it('converts the identifier columns and keeps every account', async () => {
      const db = database.db as Kysely<unknown>
      // The schema as the previous release created it: 0001 and 0002 only.
      const old = await new Migrator({
        db,
        provider: {
          getMigrations: async () => ({
            '0001-initial': initialMigration('uuid', dialect),
            '0002-login-attempts': loginAttemptsMigration,
          }),
        },
        migrationTableName: 'fastify_users_migration',
        migrationLockTableName: 'fastify_users_migration_lock',
      }).migrateToLatest()
      assert.equal(old.error, undefined)
      const repos = createKyselyRepositories(db)
      await repos.userRepository.insert({
        email: 'alice@example.com',
        passwordHash: 'x',
        username: 'alice',
      } as never)
      await repos.roleRepository.insert({ name: 'editor', description: null } as never)
      if (dialect === 'mysql') {
        // The defect as it was: the old schema equates the variants.
        const before = await repos.userRepository.findOne({ email: 'álice@exámple.com' })
        assert.ok(before, 'precondition: the old column is accent-insensitive')
      }

      const { executed } = await migrateToLatest(db)
      assert.ok(executed.includes('0004-identifier-collation'), executed.join())

      assert.ok(await repos.userRepository.findOne({ email: 'alice@example.com' }), 'the account is kept')
      assert.equal(await repos.userRepository.findOne({ email: 'álice@exámple.com' }), null)
      assert.equal(await repos.userRepository.findOne({ email: 'ALICE@example.com' }), null)
      assert.equal(await repos.userRepository.findOne({ username: 'alicé' }), null)
      assert.equal(await repos.roleRepository.findByName('éditor'), null)
      // Both spellings can now be distinct accounts.
      await repos.userRepository.insert({ email: 'álice@example.com', passwordHash: 'x' } as never)

      if (dialect === 'mysql') {
        const rows = await sql<{
          TABLE_NAME: string
          COLUMN_NAME: string
          COLLATION_NAME: string
          IS_NULLABLE: string
        }>`
          select TABLE_NAME, COLUMN_NAME, COLLATION_NAME, IS_NULLABLE from information_schema.COLUMNS
          where TABLE_SCHEMA = database() and ((TABLE_NAME = 'users' and COLUMN_NAME in ('email', 'username'))
            or (TABLE_NAME = 'roles' and COLUMN_NAME = 'name') or (TABLE_NAME = 'sessions' and COLUMN_NAME = 'id')
            or (TABLE_NAME = 'revoked_tokens' and COLUMN_NAME = 'jti') or (TABLE_NAME = 'login_attempts' and COLUMN_NAME = 'key'))`.execute(
          db,
        )
        assert.equal(rows.rows.length, 6)
        for (const row of rows.rows) {
          assert.equal(row.COLLATION_NAME, 'utf8mb4_bin', `${row.TABLE_NAME}.${row.COLUMN_NAME}`)
          assert.equal(
            row.IS_NULLABLE,
            row.COLUMN_NAME === 'username' ? 'YES' : 'NO',
            `${row.TABLE_NAME}.${row.COLUMN_NAME}`,
          )
        }
      }
    })
  })
}
