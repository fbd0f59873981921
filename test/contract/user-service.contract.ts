/**
 * The shared contract of `BaseUserService` over a real database: every seed method, every error path.
 * `user-service.<database>.test.ts` run it on SQLite always and on PostgreSQL and MariaDB when their URLs are set
 * (in CI always), with UUIDv7 ids and with auto-increment integer ids.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type Algorithm, hash as argon2Hash } from '@node-rs/argon2'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { sql } from 'kysely'
import {
  type BaseUser,
  BaseUserService,
  type Clock,
  emailFingerprint,
  type Id,
  type IdType,
  InactiveUserError,
  InvalidTokenError,
  loginAttemptKey,
  NotFoundError,
  NotVerifiedError,
  OAuthLinkRequiredError,
  PasswordPolicyError,
  PasswordRequiredError,
  RoleAlreadyAssignedError,
  RoleExistsError,
  RoleNotAssignedError,
  TooManyAttemptsError,
  tokenPurposes,
  UserExistsError,
  ValidationError,
  WrongPasswordError,
} from '../../src/index.js'
import {
  createKyselyRepositories,
  type KyselyRepositories,
  migrateToLatest,
} from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, type TestDialect } from '../helpers/databases.js'

export interface AppUser extends BaseUser {
  displayName: string | null
}

export const SECRET = 'contract-test-secret-0123456789-abcdefghijkl'
const PASSWORD = 'correct horse battery staple'
/** The account's password, as `verify` needs it. */
const PW = { password: PASSWORD }

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  t = Date.now()
  now(): number {
    return this.t
  }
  advance(seconds: number): void {
    this.t += seconds * 1000
  }
}

export interface Sent {
  kind: string
  user: AppUser
  token?: string
  /** Where it went, when not to `user.email`. */
  to?: string
}

/** The service under test: records what it would send and the order hooks run in. */
export class RecordingService extends BaseUserService<AppUser> {
  sent: Sent[] = []
  calls: string[] = []
  cancelLogin = false
  failHook: string | null = null

  override async sendVerificationToken(user: AppUser, token: string) {
    this.sent.push({ kind: 'verify', user, token })
  }
  override async sendPasswordResetToken(user: AppUser, token: string) {
    this.sent.push({ kind: 'reset', user, token })
  }
  override async sendExistingAccountNotice(user: AppUser, token: string) {
    this.sent.push({ kind: 'existing', user, token })
  }
  override async sendPasswordChangedNotice(user: AppUser) {
    this.sent.push({ kind: 'password-changed', user })
  }
  override async sendEmailChangedNotice(user: AppUser, oldEmail: string) {
    this.sent.push({ kind: 'email-changed', user, to: oldEmail })
  }
  override async sendEmailChangeConfirmation(user: AppUser, newEmail: string, token: string) {
    this.sent.push({ kind: 'email-confirm', user, token, to: newEmail })
  }
  override async sendEmailChangeRequestedNotice(user: AppUser, _newEmail: string, token: string) {
    this.sent.push({ kind: 'email-cancel', user, token, to: user.email })
  }
  override async preLoginHook() {
    this.calls.push('preLogin')
    if (this.failHook === 'preLogin') throw new Error('preLogin failed')
    return !this.cancelLogin
  }
  override async postLoginHook() {
    this.calls.push('postLogin')
  }
  override async preRegistrationHook() {
    this.calls.push('preRegistration')
    if (this.failHook === 'preRegistration') throw new Error('preRegistration failed')
  }
  override async postRegistrationHook() {
    this.calls.push('postRegistration')
  }
  override async postVerificationHook() {
    this.calls.push('postVerification')
  }
  override async validatePassword(password: string) {
    if (password.includes('forbidden')) throw new PasswordPolicyError('rejected', 'no forbidden words')
  }
  async lastToken(kind: string): Promise<string> {
    await this.settled()
    const found = this.sent.filter((s) => s.kind === kind).at(-1)
    assert.ok(found?.token, `a ${kind} token was sent`)
    return found.token
  }
}

export function userServiceContract(dialect: TestDialect, idType: IdType): void {
  describe(`BaseUserService on ${dialect.name} with ${idType} ids`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase<unknown>
    let repos: KyselyRepositories<AppUser>
    let clock: ManualClock
    let service: RecordingService
    let n = 0
    const email = () => `user${++n}.${Date.now()}@example.com`
    const make = (options: Partial<ConstructorParameters<typeof RecordingService>[0]> = {}) =>
      new RecordingService({ secret: SECRET, clock, ...repos, ...options })

    before(async () => {
      tdb = await createTestDatabase(dialect.name, { poolSize: 25 })
      const first = await migrateToLatest(tdb.db, {
        idType,
        migrations: {
          '0001-display-name': {
            up: async (db) => {
              await db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
            },
          },
        },
      })
      // The library's migrations in order (more are added over time), then the application's.
      assert.deepEqual(first.executed.slice(0, 2), ['0001-initial', '0002-login-attempts'])
      assert.ok(first.executed.includes('0004-identifier-collation'), first.executed.join())
      assert.equal(first.executed.at(-1), '0001-display-name')
      repos = createKyselyRepositories<AppUser>(tdb.db, {
        idType,
        userFields: { displayName: { type: 'string', maxLength: 100 } },
      })
    })
    after(async () => {
      await tdb?.destroy()
    })
    beforeEach(() => {
      clock = new ManualClock()
      service = make()
    })

    describe('migrations', () => {
      it('running them again changes nothing', async () => {
        const again = await migrateToLatest(tdb.db, { idType })
        assert.deepEqual(again.executed, [])
      })
      it('the pending email column compares exactly (binary collation on MySQL/MariaDB)', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await service.requestEmailChange(user.id, `pénding.${user.id}@example.com`, PASSWORD)
        const accentless = await repos.userRepository.update(
          user.id,
          { pendingEmail: null },
          { expect: { pendingEmail: `pending.${user.id}@example.com` } },
        )
        assert.equal(accentless, null, 'an accent-folded value does not match')
        assert.equal((await service.getUser(user.id)).pendingEmail, `pénding.${user.id}@example.com`)
        if (dialect.name === 'mysql') {
          const { rows } = await sql<{ c: string }>`select collation_name as c from information_schema.columns
            where table_schema = database() and table_name = 'users' and column_name = 'pending_email'`.execute(
            tdb.db,
          )
          assert.equal(rows[0]?.c, 'utf8mb4_bin')
        }
      })
    })

    describe('addUser', () => {
      it('creates an unverified, active user by default, with an argon2id PHC hash', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        assert.equal(user.isVerified, false)
        assert.equal(user.isActive, true)
        assert.match(user.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
        assert.equal(typeof user.id, idType === 'uuid' ? 'string' : 'number')
        if (idType === 'uuid') assert.match(String(user.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/)
        assert.deepEqual(user.roles, [])
      })
      it('takes verify and activate', async () => {
        const user = await service.addUser(
          { email: email(), password: PASSWORD },
          { verify: true, activate: false },
        )
        assert.equal(user.isVerified, true)
        assert.equal(user.isActive, false)
      })
      it('stores the email trimmed and lower-cased', async () => {
        const user = await service.addUser({ email: '  Mixed.Case@Example.COM ', password: PASSWORD })
        assert.equal(user.email, 'mixed.case@example.com')
      })
      it('refuses a duplicate identifier whatever its case', async () => {
        const address = email()
        await service.addUser({ email: address, password: PASSWORD })
        await assert.rejects(
          service.addUser({ email: address.toUpperCase(), password: PASSWORD }),
          UserExistsError,
        )
      })
      it('stores an imported hash as given', async () => {
        const imported = await bcryptHash(PASSWORD, 10)
        const user = await service.addUser({ email: email(), passwordHash: imported })
        assert.equal(user.passwordHash, imported)
      })
      it('refuses an invalid email address', async () => {
        for (const bad of [
          'no-at-sign',
          '"e@attacker.com"@victim.com',
          'a@x.com\r\nBcc: evil@x.com',
          'a@b',
        ]) {
          await assert.rejects(service.addUser({ email: bad, password: PASSWORD }), ValidationError)
        }
      })
    })

    describe('register', () => {
      it('runs the hooks in order and sends a verification token bound to the email', async () => {
        const address = email()
        const user = await service.register({ email: address, password: PASSWORD, displayName: 'Ada' })
        assert.equal(user.isVerified, false)
        assert.equal(user.displayName, 'Ada')
        assert.deepEqual(service.calls, ['preRegistration', 'postRegistration'])
        const token = await service.lastToken('verify')
        const claims = service.tokens.verify(token, tokenPurposes.verify)
        assert.equal(claims.ef, emailFingerprint(address))
        assert.ok(
          !token.includes(Buffer.from(address).toString('base64url').slice(0, 8)),
          'the address is not in the token',
        )
        assert.ok(!JSON.stringify(claims).includes(address))
        assert.equal(claims.sub, String(user.id))
      })
      it('creates a verified user and sends nothing when verification is not required', async () => {
        const svc = make({ requireVerificationOnRegistration: false })
        const user = await svc.register({ email: email(), password: PASSWORD })
        assert.equal(user.isVerified, true)
        await svc.settled()
        assert.deepEqual(svc.sent, [])
      })
      it('creates exactly one user from 20 concurrent registrations differing only by case', async () => {
        const local = `bob${Date.now()}`
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            service.register({ email: `${i % 2 ? local.toUpperCase() : local}@X.io`, password: PASSWORD }),
          ),
        )
        const created = results.filter((r) => r.status === 'fulfilled')
        const refused = results.filter((r) => r.status === 'rejected')
        assert.equal(created.length, 1)
        assert.equal(refused.length, 19)
        for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof UserExistsError)
        const [, total] = await service.listAndCountUsers({ filters: { email: `${local}@x.io` } })
        assert.equal(total, 1)
      })
      it('tells the owner of a taken address instead of sending a token, then refuses', async () => {
        const address = email()
        const owner = await service.register({ email: address, password: PASSWORD })
        // Mails go out in the background (after the mail cap is counted): let the first one land.
        await service.settled()
        service.sent = []
        await assert.rejects(
          service.register({ email: address, password: 'another password 1' }),
          UserExistsError,
        )
        await service.settled()
        assert.deepEqual(
          service.sent.map((s) => [s.kind, s.user.id]),
          [['existing', owner.id]],
        )
      })
      it('voids the unproven password of an unverified account when someone else registers its address', async () => {
        const address = email()
        await service.register({ email: address, password: 'squatter password' })
        const squatterLink = await service.lastToken('verify')
        await assert.rejects(
          service.register({ email: address, password: 'owner password 1' }),
          UserExistsError,
        )
        await assert.rejects(
          service.verify(squatterLink, undefined, { password: 'squatter password' }),
          InvalidTokenError,
        )
        const owner = await service.getUserBy({ email: address })
        assert.ok(owner && !owner.passwordHash.startsWith('$'))
        assert.equal(await service.authenticate({ email: address, password: 'squatter password' }), null)
        const updated = await service.resetPassword(await service.lastToken('existing'), 'owner password 1')
        assert.equal(updated.isVerified, true)
        assert.ok(await service.authenticate({ email: address, password: 'owner password 1' }))
      })
      it('refuses fields that users may not set, and unknown fields', async () => {
        await assert.rejects(
          service.register({ email: email(), password: PASSWORD, isVerified: true }),
          ValidationError,
        )
        await assert.rejects(
          service.register({ email: email(), password: PASSWORD, isActive: false }),
          ValidationError,
        )
        await assert.rejects(
          service.register({ email: email(), password: PASSWORD, isAdmin: true }),
          ValidationError,
        )
        await assert.rejects(
          service.register({ email: email(), password: PASSWORD, displayName: 'x'.repeat(101) }),
          ValidationError,
        )
      })
      it('applies the password policy and the validatePassword hook before storing anything', async () => {
        const address = email()
        await assert.rejects(service.register({ email: address, password: 'seven77' }), {
          name: 'PasswordPolicyError',
          reason: 'too_short',
        })
        await assert.rejects(service.register({ email: address, password: 'x'.repeat(129) }), {
          reason: 'too_long',
        })
        await assert.rejects(service.register({ email: address, password: 'this is forbidden' }), {
          reason: 'rejected',
        })
        assert.equal(await service.getUserBy({ email: address }), null)
      })
      it('passes a hook exception through unchanged and stores nothing', async () => {
        service.failHook = 'preRegistration'
        const address = email()
        await assert.rejects(service.register({ email: address, password: PASSWORD }), {
          message: 'preRegistration failed',
        })
        assert.equal(await service.getUserBy({ email: address }), null)
      })
    })

    describe('getUser and getUserBy', () => {
      it('finds by id and throws NotFoundError for a missing or malformed id', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        assert.equal((await service.getUser(user.id)).email, user.email)
        const missing: Id = idType === 'uuid' ? '01900000-0000-7000-8000-000000000000' : 999_999_999
        await assert.rejects(service.getUser(missing), NotFoundError)
        await assert.rejects(service.getUser('not-an-id'), NotFoundError)
      })
      it('compares emails case-insensitively and returns null when absent', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD, displayName: 'Grace' })
        assert.equal((await service.getUserBy({ email: user.email.toUpperCase() }))?.id, user.id)
        assert.equal((await service.getUserBy({ displayName: 'Grace', email: user.email }))?.id, user.id)
        assert.equal(await service.getUserBy({ email: 'nobody@example.com' }), null)
      })
    })

    describe('requests by address', () => {
      it('refuses a malformed address for a reset or a verification mail, as registration does', async () => {
        // Regression: both answered as for an unknown account (202 over HTTP) instead of a 400.
        for (const bad of ['not-an-address', 'a@b', '@example.com']) {
          await assert.rejects(service.initiatePasswordReset(bad), ValidationError, bad)
          await assert.rejects(service.requestVerification(bad), ValidationError, bad)
        }
        await service.initiatePasswordReset(email())
        await service.requestVerification(email())
      })
    })

    describe('listAndCountUsers', () => {
      it('filters, sorts, pages by offset and by cursor', async () => {
        const tag = `list${Date.now()}`
        const role = await service.addRole({ name: `${tag}-role` })
        const made: AppUser[] = []
        for (let i = 0; i < 5; i++) {
          clock.advance(1)
          made.push(
            await service.addUser(
              { email: `${tag}.${i}@example.com`, password: PASSWORD, displayName: `Name ${i}` },
              { verify: i % 2 === 0, activate: i !== 4 },
            ),
          )
        }
        await service.assignRole(made[1]!.id, role.id)
        await service.assignRole(made[3]!.id, role.id)

        const [all, total] = await service.listAndCountUsers({ filters: { email: tag }, limit: 10 })
        assert.equal(total, 5)
        assert.deepEqual(
          all.map((u) => u.id),
          made.map((u) => u.id),
        )
        assert.deepEqual(
          all.map((u) => u.displayName),
          [0, 1, 2, 3, 4].map((i) => `Name ${i}`),
        )
        const [named] = await service.listAndCountUsers({ filters: { email: tag, displayName: 'Name 3' } })
        assert.deepEqual(
          named.map((u) => u.id),
          [made[3]!.id],
        )
        const [verified] = await service.listAndCountUsers({ filters: { email: tag, isVerified: true } })
        assert.deepEqual(
          verified.map((u) => u.email),
          [0, 2, 4].map((i) => `${tag}.${i}@example.com`),
        )
        const [inactive] = await service.listAndCountUsers({ filters: { email: tag, isActive: false } })
        assert.deepEqual(
          inactive.map((u) => u.id),
          [made[4]!.id],
        )
        const [withRole, roleTotal] = await service.listAndCountUsers({
          filters: { role: role.name.toUpperCase() },
        })
        assert.equal(roleTotal, 2)
        assert.deepEqual(
          withRole.map((u) => u.id),
          [made[1]!.id, made[3]!.id],
        )
        const [desc] = await service.listAndCountUsers({
          filters: { email: tag },
          orderBy: { field: 'email', direction: 'desc' },
        })
        assert.equal(desc[0]!.id, made[4]!.id)
        const [second] = await service.listAndCountUsers({ filters: { email: tag }, limit: 2, offset: 2 })
        assert.deepEqual(
          second.map((u) => u.id),
          [made[2]!.id, made[3]!.id],
        )

        const walked: Id[] = []
        let cursor: string | undefined
        do {
          const page = await service.listUsers({ filters: { email: tag }, limit: 2, cursor })
          assert.equal(page.total, 5)
          walked.push(...page.items.map((u) => u.id))
          cursor = page.nextCursor ?? undefined
        } while (cursor)
        assert.deepEqual(
          walked,
          made.map((u) => u.id),
        )
      })
      it('walks every page of each sort in both directions: a cursor carries its sort and filters', async () => {
        // Regression: the cursor held only the sort value and id, so page 2 read under another (or the
        // default) order was empty or held the wrong users, and nothing refused it.
        const tag = `walk${Date.now()}`
        const made: AppUser[] = []
        for (const i of [3, 0, 4, 1, 2]) {
          clock.advance(1)
          made.push(await service.addUser({ email: `${tag}.${i}@example.com`, password: PASSWORD }))
        }
        // Updated in another order than created, so each sort field gives its own order.
        for (const i of [2, 0, 4, 1, 3]) {
          clock.advance(1)
          await service.updateUser(made[i]!.id, { displayName: `u${i}` })
        }
        const all = await Promise.all(made.map((u) => service.getUser(u.id)))
        const key = (u: AppUser, field: 'createdAt' | 'updatedAt' | 'email' | 'id'): string | number =>
          field === 'email' ? u.email : field === 'id' ? String(u.id) : u[field].getTime()
        for (const field of ['createdAt', 'updatedAt', 'email'] as const) {
          for (const direction of ['asc', 'desc'] as const) {
            const orderBy = { field, direction }
            const [expected] = await service.listAndCountUsers({ filters: { email: tag }, orderBy })
            const sorted = [...all].sort((a, b) => {
              const [x, y] = [key(a, field), key(b, field)]
              // Ties (same millisecond) fall back to the id, as the repository orders them.
              const [i, j] = [a.id, b.id]
              const byId =
                typeof i === 'number' && typeof j === 'number' ? i - j : String(i) < String(j) ? -1 : 1
              const c = x < y ? -1 : x > y ? 1 : byId
              return direction === 'asc' ? c : -c
            })
            assert.deepEqual(
              expected.map((u) => u.id),
              sorted.map((u) => u.id),
              `${field} ${direction}`,
            )
            const walked: Id[] = []
            let cursor: string | undefined
            do {
              const page = await service.listUsers({ filters: { email: tag }, orderBy, limit: 2, cursor })
              assert.equal(page.total, 5)
              walked.push(...page.items.map((u) => u.id))
              cursor = page.nextCursor ?? undefined
            } while (cursor && walked.length <= 10)
            assert.deepEqual(
              walked,
              expected.map((u) => u.id),
              `${field} ${direction}`,
            )

            const first = await service.listUsers({ filters: { email: tag }, orderBy, limit: 2 })
            const next = first.nextCursor ?? undefined
            assert.ok(next)
            const mismatched: Array<NonNullable<Parameters<typeof service.listUsers>[0]>> = [
              { filters: { email: tag } },
              {
                filters: { email: tag },
                orderBy: { field, direction: direction === 'asc' ? 'desc' : 'asc' },
              },
              {
                filters: { email: tag },
                orderBy: { field: field === 'email' ? 'createdAt' : 'email', direction },
              },
              {
                filters: { email: tag },
                orderBy: { field: field === 'updatedAt' ? 'createdAt' : 'updatedAt', direction },
              },
              { orderBy },
              { filters: { email: tag, isActive: true }, orderBy },
            ]
            for (const query of mismatched) {
              if (query.orderBy === undefined && field === 'createdAt' && direction === 'asc') continue
              await assert.rejects(
                service.listUsers({ ...query, limit: 2, cursor: next }),
                (err) => err instanceof ValidationError && err.field === 'cursor',
                `${field} ${direction} under ${JSON.stringify(query)}`,
              )
            }
          }
        }
      })
      it('treats LIKE wildcards in the email filter literally', async () => {
        const [users] = await service.listAndCountUsers({ filters: { email: '%' } })
        assert.deepEqual(users, [])
      })
      it('refuses a forged cursor and an out-of-range limit', async () => {
        await assert.rejects(service.listUsers({ cursor: 'garbage' }), ValidationError)
        await assert.rejects(service.listUsers({ limit: 100_000 }), ValidationError)
      })
    })

    describe('updateUser', () => {
      it('updates custom fields', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const updated = await service.updateUser(user.id, { displayName: 'Linus' })
        assert.equal(updated.displayName, 'Linus')
        assert.equal((await service.getUser(user.id)).displayName, 'Linus')
      })
      it('hashes a new password, checks the policy and ends every credential', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await assert.rejects(service.updateUser(user.id, { password: 'short' }), PasswordPolicyError)
        const updated = await service.updateUser(user.id, { password: 'a brand new password' })
        assert.notEqual(updated.passwordHash, user.passwordHash)
        assert.equal(updated.authVersion, user.authVersion + 1)
        assert.equal(await service.authenticate({ email: user.email, password: PASSWORD }), null)
        assert.ok(await service.authenticate({ email: user.email, password: 'a brand new password' }))
        await service.settled()
        assert.ok(service.sent.some((s) => s.kind === 'password-changed' && s.user.id === user.id))
      })
      it('resets isVerified when the email changes and tells the old address', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const updated = await service.updateUser(user.id, { email: email() })
        assert.equal(updated.isVerified, false)
        await service.settled()
        assert.ok(service.sent.some((s) => s.kind === 'email-changed' && s.to === user.email))
      })
      it('an email set through the service (admin, CLI) is mailed a verification link by the service itself', async () => {
        // The rule used to live in the two route handlers: through the service or the CLI an email change
        // left the user unverified and mailed nothing, so they could never verify again.
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await service.requestEmailChange(user.id, email(), PASSWORD)
        const next = email()
        const updated = await service.updateUser(user.id, { email: next })
        assert.equal(updated.email, next)
        assert.equal(updated.pendingEmail, null, 'an address set directly drops the pending change')
        const link = await service.lastToken('verify')
        assert.equal(service.sent.filter((s) => s.kind === 'verify').at(-1)?.user.email, next)
        assert.equal(service.tokens.verify(link, tokenPurposes.verify).ef, emailFingerprint(next))
        assert.equal((await service.verify(link, undefined, PW)).isVerified, true)
        // An admin who marks the new address verified is trusted: no link.
        service.sent = []
        await service.updateUser(user.id, { email: email(), isVerified: true })
        await service.settled()
        assert.ok(!service.sent.some((s) => s.kind === 'verify'))
      })
      it('ends every credential on deactivation', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const updated = await service.updateUser(user.id, { isActive: false })
        assert.equal(updated.authVersion, user.authVersion + 1)
      })
      it('refuses a taken email, unknown fields, and missing users', async () => {
        const a = await service.addUser({ email: email(), password: PASSWORD })
        const b = await service.addUser({ email: email(), password: PASSWORD })
        await assert.rejects(service.updateUser(b.id, { email: a.email.toUpperCase() }), UserExistsError)
        await assert.rejects(service.updateUser(b.id, { nope: 1 } as never), ValidationError)
        const missing: Id = idType === 'uuid' ? '01900000-0000-7000-8000-000000000001' : 999_999_998
        await assert.rejects(service.updateUser(missing, { displayName: 'x' }), NotFoundError)
      })
    })

    // The email change has its own contract (email-change.contract.ts), run as a file of its own.

    describe('changePassword', () => {
      it('needs the current password', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await assert.rejects(
          service.changePassword(user.id, 'wrong password!', 'a whole new password'),
          WrongPasswordError,
        )
        const changed = await service.changePassword(user.id, PASSWORD, 'a whole new password')
        assert.equal(changed.authVersion, user.authVersion + 1)
      })
    })

    describe('deleteUser', () => {
      it('returns the deleted user and removes their role links and sessions', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const role = await service.addRole({ name: `del-${Date.now()}` })
        await service.assignRole(user.id, role.id)
        await repos.sessionRepository.create({
          id: `s${Date.now()}${n}`,
          userId: user.id,
          authVersion: 0,
          createdAt: clock.now(),
          lastSeenAt: clock.now(),
          expiresAt: clock.now() + 60_000,
          ip: null,
          userAgent: null,
        })
        const deleted = await service.deleteUser(user.id)
        assert.equal(deleted.id, user.id)
        assert.deepEqual(
          deleted.roles.map((r) => r.name),
          [role.name],
        )
        await assert.rejects(service.getUser(user.id), NotFoundError)
        assert.equal(await repos.sessionRepository.deleteForUser(user.id), 0)
        await assert.rejects(service.deleteUser(user.id), NotFoundError)
        assert.ok(await service.getRole(role.id))
      })
    })

    describe('rules of the service, whatever the entry point', () => {
      it('a custom field named like a built-in one is refused when the service is built', () => {
        for (const name of ['roles', 'id', 'passwordHash', 'password_hash', 'is_active', 'authVersion']) {
          const { userRepository } = createKyselyRepositories<AppUser>(tdb.db, {
            idType,
            userFields: { [name]: { type: 'string' } },
          })
          assert.throws(
            () => make({ userRepository }),
            (err: unknown) => err instanceof TypeError && err.message.includes(`userFields.${name}`),
            name,
          )
        }
      })
      it('purgeExpired() deletes expired sessions, deny-list entries and login-failure counts, and nothing live', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const session = (id: string, expiresAt: number) =>
          repos.sessionRepository.create({
            id,
            userId: user.id,
            authVersion: 0,
            createdAt: clock.now(),
            lastSeenAt: clock.now(),
            expiresAt,
            ip: null,
            userAgent: null,
          })
        const tag = `${Date.now()}${n}`
        await session(`old${tag}`, clock.now() - 1)
        await session(`live${tag}`, clock.now() + 60_000)
        await repos.tokenDenylist.add(`old${tag}`, clock.now() - 1)
        await repos.tokenDenylist.add(`live${tag}`, clock.now() + 60_000)
        const throttle = service.loginThrottle!
        const deadline = (throttle.windowSeconds + throttle.maxDelaySeconds) * 1000
        const oldKey = loginAttemptKey(`old${tag}@example.com`)
        const liveKey = loginAttemptKey(`live${tag}@example.com`)
        await repos.loginAttemptStore.recordFailure(oldKey, clock.now() - deadline - 1000, deadline)
        await repos.loginAttemptStore.recordFailure(liveKey, clock.now(), deadline)
        const purged = await service.purgeExpired()
        assert.ok(
          purged.sessions >= 1 && purged.deniedTokens >= 1 && purged.loginFailures >= 1,
          JSON.stringify(purged),
        )
        assert.equal(await repos.sessionRepository.find(`old${tag}`), null)
        assert.ok(await repos.sessionRepository.find(`live${tag}`))
        assert.equal(await repos.tokenDenylist.has(`old${tag}`), false)
        assert.equal(await repos.tokenDenylist.has(`live${tag}`), true)
        assert.equal(await repos.loginAttemptStore.failures(oldKey, clock.now(), 10 * deadline), null)
        assert.ok(await repos.loginAttemptStore.failures(liveKey, clock.now(), deadline))
      })
      it('purgeExpired() also deletes passed mail-cap windows and the refresh tokens of ended families', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const tag = `${Date.now()}${n}`
        const window = service.mailCap!.windowSeconds * 1000
        await repos.mailCapStore.hit(`old${tag}`, clock.now() - window - 1000, window)
        await repos.mailCapStore.hit(`live${tag}`, clock.now(), window)
        const token = (familyExpiresAt: number) => ({
          tokenHash: randomBytes(32).toString('hex'),
          familyId: `f${tag}${familyExpiresAt}`,
          userId: String(user.id),
          authVersion: 0,
          issuedAt: clock.now() - 60_000,
          expiresAt: clock.now() + 60_000,
          familyCreatedAt: clock.now() - 60_000,
          familyExpiresAt,
          usedAt: null,
          ip: null,
          userAgent: null,
        })
        const ended = token(clock.now() - 1)
        const live = token(clock.now() + 60_000)
        await repos.refreshTokenStore.insert(ended)
        await repos.refreshTokenStore.insert(live)
        const purged = await service.purgeExpired()
        assert.ok(purged.mailCounts >= 1 && purged.refreshTokens >= 1, JSON.stringify(purged))
        assert.equal(
          await repos.mailCapStore.hit(`live${tag}`, clock.now(), window),
          2,
          'a live window is kept',
        )
        assert.equal(await repos.refreshTokenStore.find(ended.tokenHash), null)
        assert.ok(await repos.refreshTokenStore.find(live.tokenHash))
      })
    })

    describe('authenticate', () => {
      it('returns the user for the right password, case-insensitively, with the hooks in order', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const found = await service.authenticate({ email: user.email.toUpperCase(), password: PASSWORD })
        assert.equal(found?.id, user.id)
        assert.deepEqual(service.calls, ['preLogin', 'postLogin'])
      })
      it('returns null for a wrong password and for an unknown user, after the same hash work', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const hashesSeen: Array<string | null> = []
        const verify = service.passwords.verify.bind(service.passwords)
        service.passwords.verify = async (password, hash) => {
          hashesSeen.push(hash)
          return verify(password, hash)
        }
        assert.equal(await service.authenticate({ email: user.email, password: 'wrong password' }), null)
        assert.equal(await service.authenticate({ email: 'nobody@example.com', password: PASSWORD }), null)
        assert.equal(await service.authenticate({ email: 'not an email', password: PASSWORD }), null)
        assert.deepEqual(hashesSeen, [user.passwordHash, null, null])
        assert.deepEqual(service.calls, ['preLogin', 'preLogin', 'preLogin'])
      })
      it('is cancelled by a preLoginHook returning false, and passes hook exceptions through', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        service.cancelLogin = true
        assert.equal(await service.authenticate({ email: user.email, password: PASSWORD }), null)
        service.cancelLogin = false
        service.failHook = 'preLogin'
        await assert.rejects(service.authenticate({ email: user.email, password: PASSWORD }), {
          message: 'preLogin failed',
        })
      })
      it('refuses inactive and unverified users only after a correct password', async () => {
        const inactive = await service.addUser(
          { email: email(), password: PASSWORD },
          { verify: true, activate: false },
        )
        const unverified = await service.addUser({ email: email(), password: PASSWORD })
        await assert.rejects(
          service.authenticate({ email: inactive.email, password: PASSWORD }),
          InactiveUserError,
        )
        await assert.rejects(
          service.authenticate({ email: unverified.email, password: PASSWORD }),
          NotVerifiedError,
        )
        assert.equal(await service.authenticate({ email: inactive.email, password: 'wrong password' }), null)
        assert.equal(
          await service.authenticate({ email: unverified.email, password: 'wrong password' }),
          null,
        )
        assert.ok(!service.calls.includes('postLogin'))
      })
      it('upgrades a bcrypt hash and a weaker argon2id hash to the default on login', async () => {
        const svc = make({ hashSchemes: ['argon2id', 'bcrypt'] })
        const weak = await argon2Hash(PASSWORD, {
          algorithm: 2 as Algorithm.Argon2id,
          memoryCost: 12288,
          timeCost: 3,
          parallelism: 1,
        })
        for (const imported of [await bcryptHash(PASSWORD, 10), weak]) {
          const user = await svc.addUser({ email: email(), passwordHash: imported }, { verify: true })
          const found = await svc.authenticate({ email: user.email, password: PASSWORD })
          assert.ok(found)
          const stored = await svc.getUser(user.id)
          assert.match(stored.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
          assert.equal(stored.authVersion, user.authVersion, 'an upgrade ends no credential')
          assert.ok(await svc.authenticate({ email: user.email, password: PASSWORD }))
        }
      })
      it('leaves a current hash alone', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await service.authenticate({ email: user.email, password: PASSWORD })
        assert.equal((await service.getUser(user.id)).passwordHash, user.passwordHash)
      })
    })

    describe('generateToken', () => {
      it('signs HS256 with aud, iss, exp, iat and jti', async () => {
        const token = service.generateToken(42, tokenPurposes.verify.audience, { email: 'a@b.co' })
        const [header, payload] = token
          .split('.')
          .slice(0, 2)
          .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()))
        assert.equal(header.alg, 'HS256')
        assert.equal(header.typ, 'verify-email+jwt')
        assert.equal(payload.aud, 'fastify-users:verify')
        assert.equal(payload.iss, 'fastify-users')
        assert.equal(payload.sub, '42')
        assert.equal(payload.exp - payload.iat, 86_400)
        assert.equal(typeof payload.jti, 'string')
      })
      it('verifies tokens signed with a rotated-out secret while signing with the new one', async () => {
        const old = make({ secret: SECRET })
        const rotated = make({ secret: ['a-brand-new-secret-that-is-long-enough-0123', SECRET] })
        const token = old.generateToken(1, tokenPurposes.reset.audience)
        assert.equal(rotated.tokens.verify(token, tokenPurposes.reset).sub, '1')
        const fresh = rotated.generateToken(1, tokenPurposes.reset.audience)
        assert.throws(() => old.tokens.verify(fresh, tokenPurposes.reset), InvalidTokenError)
      })
    })

    describe('verify', () => {
      const registered = async () => {
        const user = await service.register({ email: email(), password: PASSWORD })
        return { user, token: await service.lastToken('verify') }
      }
      it('verifies the user and runs postVerificationHook', async () => {
        const { user, token } = await registered()
        const verified = await service.verify(token, undefined, PW)
        assert.equal(verified.id, user.id)
        assert.equal(verified.isVerified, true)
        assert.ok(service.calls.includes('postVerification'))
        assert.ok(await service.authenticate({ email: user.email, password: PASSWORD }))
      })
      it('pre-account hijacking: a verification link without the account password verifies nothing', async () => {
        // The attacker registers the victim's address; the victim gets the link and opens it.
        const address = email()
        const squatter = await service.register({ email: address, password: 'attacker password 1' })
        const link = await service.lastToken('verify')
        await assert.rejects(service.verify(link), PasswordRequiredError)
        await assert.rejects(service.verify(link, undefined, { password: '' }), PasswordRequiredError)
        await assert.rejects(
          service.verify(link, undefined, { password: 'the victim guesses' }),
          PasswordRequiredError,
        )
        assert.equal((await service.getUser(squatter.id)).isVerified, false)
        await assert.rejects(
          service.authenticate({ email: address, password: 'attacker password 1' }),
          NotVerifiedError,
        )
        assert.ok(!service.calls.includes('postVerification'))
        // The mailbox owner takes the account with a reset, which verifies it and ends the attacker's password.
        await service.initiatePasswordReset(address)
        const reset = await service.resetPassword(await service.lastToken('reset'), 'the victim own password')
        assert.equal(reset.isVerified, true)
        assert.equal(await service.authenticate({ email: address, password: 'attacker password 1' }), null)
        assert.ok(await service.authenticate({ email: address, password: 'the victim own password' }))
      })
      it('the reset that first proves an address removes the provider links made while it was unproven', async () => {
        const address = email()
        // A provider that did not verify the address: the account is made, unverified, with no credential.
        const identity = { provider: 'idp', subject: `sub-${address}`, email: address, emailVerified: false }
        await assert.rejects(service.oauth.signIn(identity), NotVerifiedError)
        const made = await service.getUserBy({ email: address })
        assert.ok(made)
        assert.equal((await service.oauth.list(made.id)).length, 1)
        // The mailbox owner resets: the address is proven, the link made before goes.
        await service.initiatePasswordReset(address)
        await service.resetPassword(await service.lastToken('reset'), 'the mailbox owner password')
        assert.deepEqual(await service.oauth.list(made.id), [])
        await assert.rejects(service.oauth.signIn(identity), OAuthLinkRequiredError)

        // The control: a verified account's links survive its resets.
        const kept = email()
        const verified = { provider: 'idp', subject: `sub-${kept}`, email: kept, emailVerified: true }
        const user = await service.oauth.signIn(verified)
        assert.ok(user)
        await service.initiatePasswordReset(kept)
        await service.resetPassword(await service.lastToken('reset'), 'the mailbox owner password')
        assert.equal((await service.oauth.list(user.id)).length, 1)
      })
      it('wrong passwords on verification count against the login throttle', async () => {
        const svc = make({ loginThrottle: { freeAttempts: 2, maxDelaySeconds: 60 } })
        const address = email()
        await svc.register({ email: address, password: PASSWORD })
        const link = await svc.lastToken('verify')
        for (let i = 0; i < 2; i++) {
          await assert.rejects(
            svc.verify(link, undefined, { password: `guess ${i} wrong` }),
            PasswordRequiredError,
          )
        }
        // Even the right password waits now: verification is no faster oracle than the login.
        await assert.rejects(svc.verify(link, undefined, PW), TooManyAttemptsError)
        await assert.rejects(svc.authenticate({ email: address, password: PASSWORD }), TooManyAttemptsError)
        clock.advance(2)
        assert.equal((await svc.verify(link, undefined, PW)).isVerified, true)
      })
      it('an admin-created user verifies with the password the admin set', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        await service.initiateVerification(user)
        const link = await service.lastToken('verify')
        await assert.rejects(
          service.verify(link, undefined, { password: 'not it at all' }),
          PasswordRequiredError,
        )
        assert.equal((await service.verify(link, undefined, PW)).isVerified, true)
      })
      it('refuses a reused token', async () => {
        const { token } = await registered()
        await service.verify(token, undefined, PW)
        await assert.rejects(service.verify(token, undefined, PW), InvalidTokenError)
      })
      it('refuses a tampered token', async () => {
        const { token } = await registered()
        const [h, p, s] = token.split('.') as [string, string, string]
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
        const forged = Buffer.from(JSON.stringify({ ...claims, sub: '1' })).toString('base64url')
        await assert.rejects(service.verify(`${h}.${forged}.${s}`, undefined, PW), InvalidTokenError)
        await assert.rejects(
          service.verify(`${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`, undefined, PW),
          InvalidTokenError,
        )
        await assert.rejects(service.verify('not.a.token', undefined, PW), InvalidTokenError)
        await assert.rejects(
          service.verify(
            `${Buffer.from('{"alg":"none","typ":"verify-email+jwt"}').toString('base64url')}.${p}.`,
            undefined,
            PW,
          ),
          InvalidTokenError,
        )
      })
      it('refuses an expired token', async () => {
        const { token } = await registered()
        clock.advance(86_400 + 10)
        await assert.rejects(service.verify(token, undefined, PW), InvalidTokenError)
      })
      it('refuses a token of another purpose', async () => {
        const { user } = await registered()
        const reset = service.generateToken(user.id, tokenPurposes.reset.audience, { email: user.email })
        await assert.rejects(service.verify(reset, undefined, PW), InvalidTokenError)
      })
      it('refuses a token issued for an email the user no longer has', async () => {
        const { user, token } = await registered()
        await service.updateUser(user.id, { email: email() })
        await assert.rejects(service.verify(token, undefined, PW), InvalidTokenError)
      })
      it('refuses a token of a deleted user', async () => {
        const { user, token } = await registered()
        await service.deleteUser(user.id)
        await assert.rejects(service.verify(token, undefined, PW), InvalidTokenError)
      })
    })

    describe('password reset', () => {
      const requested = async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await service.initiatePasswordReset(user.email.toUpperCase())
        return { user, token: await service.lastToken('reset') }
      }
      it('is silent for unknown addresses and refuses malformed ones', async () => {
        await service.initiatePasswordReset('nobody@example.com')
        await assert.rejects(service.initiatePasswordReset('not an email'), ValidationError)
        await service.settled()
        assert.deepEqual(service.sent, [])
      })
      it('sets the new password once and ends every credential', async () => {
        const { user, token } = await requested()
        const updated = await service.resetPassword(token, 'my new password 123')
        assert.equal(updated.authVersion, user.authVersion + 1)
        assert.equal(await service.authenticate({ email: user.email, password: PASSWORD }), null)
        assert.ok(await service.authenticate({ email: user.email, password: 'my new password 123' }))
        await assert.rejects(service.resetPassword(token, 'another password 456'), InvalidTokenError)
      })
      it('refuses a token after any other password change', async () => {
        const { user, token } = await requested()
        await service.updateUser(user.id, { password: 'changed meanwhile 1' })
        await assert.rejects(service.resetPassword(token, 'my new password 123'), InvalidTokenError)
      })
      it('refuses expired, tampered and other-purpose tokens', async () => {
        const { user, token } = await requested()
        const verifyToken = service.generateToken(user.id, tokenPurposes.verify.audience, {
          email: user.email,
        })
        await assert.rejects(service.resetPassword(verifyToken, 'my new password 123'), InvalidTokenError)
        await assert.rejects(service.resetPassword(`${token}x`, 'my new password 123'), InvalidTokenError)
        clock.advance(3600 + 10)
        await assert.rejects(service.resetPassword(token, 'my new password 123'), InvalidTokenError)
      })
      it('applies the password policy and keeps the token usable after a refusal', async () => {
        const { token } = await requested()
        await assert.rejects(service.resetPassword(token, 'short'), PasswordPolicyError)
        assert.ok(await service.resetPassword(token, 'long enough password'))
      })
      it('marks an unverified user verified: the mailbox owner proved ownership', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        await service.initiatePasswordReset(user.email)
        const updated = await service.resetPassword(await service.lastToken('reset'), 'owner password 123')
        assert.equal(updated.isVerified, true)
      })
    })

    describe('roles', () => {
      it('adds, finds, updates and deletes roles; names are unique whatever their case', async () => {
        const name = `Editor${Date.now()}`
        const role = await service.addRole({ name, description: 'edits' })
        assert.equal(role.name, name.toLowerCase())
        await assert.rejects(service.addRole({ name: name.toUpperCase() }), RoleExistsError)
        assert.equal((await service.getRoleByName(name.toUpperCase()))?.id, role.id)
        assert.equal(await service.getRoleByName('no-such-role'), null)
        const updated = await service.updateRole(role.id, { description: 'writes' })
        assert.deepEqual(updated, { ...role, description: 'writes' })
        const other = await service.addRole({ name: `${name}-2` })
        await assert.rejects(service.updateRole(other.id, { name }), RoleExistsError)
        assert.ok((await service.listRoles()).some((r) => r.id === role.id))
        assert.deepEqual(await service.deleteRole(role.id), updated)
        await assert.rejects(service.getRole(role.id), NotFoundError)
        await assert.rejects(service.deleteRole(role.id), NotFoundError)
        await assert.rejects(service.updateRole(role.id, { description: 'x' }), NotFoundError)
      })
      it('assigns and revokes, refusing duplicates and missing users or roles', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const role = await service.addRole({ name: `writer${Date.now()}` })
        const withRole = await service.assignRole(user.id, role.id)
        assert.deepEqual(withRole.roles, [role])
        await assert.rejects(service.assignRole(user.id, role.id), RoleAlreadyAssignedError)
        const without = await service.revokeRole(user.id, role.id)
        assert.deepEqual(without.roles, [])
        await assert.rejects(service.revokeRole(user.id, role.id), RoleNotAssignedError)
        const missing: Id = idType === 'uuid' ? '01900000-0000-7000-8000-000000000002' : 999_999_997
        await assert.rejects(service.assignRole(missing, role.id), NotFoundError)
        await assert.rejects(service.assignRole(user.id, missing), NotFoundError)
      })
      it('unassigns a deleted role from its users', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const role = await service.addRole({ name: `gone${Date.now()}` })
        await service.assignRole(user.id, role.id)
        await service.deleteRole(role.id)
        assert.deepEqual((await service.getUser(user.id)).roles, [])
      })
      it('assigns default roles at registration', async () => {
        const role = await service.addRole({ name: `member${Date.now()}` })
        const svc = make({ defaultRoles: [role.name] })
        const user = await svc.register({ email: email(), password: PASSWORD })
        assert.deepEqual(
          user.roles.map((r) => r.id),
          [role.id],
        )
      })
    })

    describe('default roles', () => {
      it('refuses every registration alike, storing nothing, while a default role is missing', async () => {
        const svc = make({ defaultRoles: [`missing${Date.now()}`] })
        const address = email()
        await assert.rejects(svc.register({ email: address, password: PASSWORD }), /does not exist/)
        assert.equal(await svc.getUserBy({ email: address }), null)
        await svc.settled()
        assert.deepEqual(svc.sent, [])
      })
    })

    describe('login throttling', () => {
      const WRONG = 'not the password at all'
      const WINDOW_MS = 900_000
      /** Counts the hash verifications the service runs from now on. */
      const countVerifies = (svc: RecordingService) => {
        const seen = { calls: 0 }
        const verify = svc.passwords.verify.bind(svc.passwords)
        svc.passwords.verify = async (password, hash) => {
          seen.calls += 1
          return verify(password, hash)
        }
        return seen
      }
      const failures = (identifier: string) =>
        repos.loginAttemptStore.failures(loginAttemptKey(identifier), clock.now(), WINDOW_MS)
      const failLogins = async (identifier: string, times: number, svc: RecordingService = service) => {
        for (let i = 0; i < times; i++) {
          assert.equal(await svc.authenticate({ email: identifier, password: WRONG }), null)
        }
      }
      const refusal = async (attempt: Promise<unknown>): Promise<TooManyAttemptsError> => {
        try {
          await attempt
        } catch (err) {
          assert.ok(err instanceof TooManyAttemptsError, `refused with TooManyAttemptsError, got ${err}`)
          return err
        }
        assert.fail('the attempt was not refused')
      }

      it('is on with the store of createKyselyRepositories, with the defaults', () => {
        assert.deepEqual(service.loginThrottle, { freeAttempts: 5, maxDelaySeconds: 900, windowSeconds: 900 })
        assert.equal(service.loginAttemptStore, repos.loginAttemptStore)
      })
      it('refuses the attempt after 5 failures, even with the right password, before any hash work', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const verifies = countVerifies(service)
        await failLogins(user.email, 5)
        assert.equal(verifies.calls, 5)
        const err = await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
        assert.equal(err.code, 'ERR_TOO_MANY_ATTEMPTS')
        assert.equal(err.retryAfterSeconds, 1)
        await refusal(service.authenticate({ email: ` ${user.email.toUpperCase()}`, password: PASSWORD }))
        assert.equal(verifies.calls, 5, 'no hash was verified for a refused attempt')
        assert.equal((await failures(user.email))?.count, 5, 'a refused attempt is not counted')
        assert.ok(!service.calls.includes('postLogin'))
      })
      it('lets the right password in once the delay has passed, and clears the count', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await failLogins(user.email, 5)
        clock.advance(1)
        assert.equal((await service.authenticate({ email: user.email, password: PASSWORD }))?.id, user.id)
        assert.equal(await failures(user.email), null)
        await failLogins(user.email, 5)
      })
      it('doubles the delay with each further failure, up to maxDelaySeconds (15 minutes)', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await failLogins(user.email, 5)
        const delays: number[] = []
        for (let i = 0; i < 12; i++) {
          const { retryAfterSeconds } = await refusal(
            service.authenticate({ email: user.email, password: PASSWORD }),
          )
          delays.push(retryAfterSeconds)
          if (retryAfterSeconds > 2) {
            clock.advance(1)
            const later = await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
            assert.equal(later.retryAfterSeconds, retryAfterSeconds - 1, 'the wait counts down')
            clock.advance(retryAfterSeconds - 1)
          } else {
            clock.advance(retryAfterSeconds)
          }
          await failLogins(user.email, 1)
        }
        assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900])
        assert.equal((await failures(user.email))?.count, 17)
      })
      it('caps the delay at a configured maxDelaySeconds', async () => {
        const svc = make({ loginThrottle: { freeAttempts: 2, maxDelaySeconds: 5 } })
        assert.deepEqual(svc.loginThrottle, { freeAttempts: 2, maxDelaySeconds: 5, windowSeconds: 900 })
        const address = email()
        await failLogins(address, 2, svc)
        const delays: number[] = []
        for (let i = 0; i < 5; i++) {
          const { retryAfterSeconds } = await refusal(svc.authenticate({ email: address, password: WRONG }))
          delays.push(retryAfterSeconds)
          clock.advance(retryAfterSeconds)
          await failLogins(address, 1, svc)
        }
        assert.deepEqual(delays, [1, 2, 4, 5, 5])
      })
      it('throttles an unknown identifier exactly like a known one', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const unknown = `nobody.${email()}`
        const verifies = countVerifies(service)
        await failLogins(user.email, 5)
        await failLogins(unknown, 5)
        assert.equal(verifies.calls, 10)
        const known = await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
        const stranger = await refusal(service.authenticate({ email: unknown, password: PASSWORD }))
        const shape = (e: TooManyAttemptsError) => [e.name, e.code, e.message, e.retryAfterSeconds]
        assert.deepEqual(shape(stranger), shape(known))
        assert.equal(verifies.calls, 10)
        // A malformed identifier cannot name an account, and is throttled all the same.
        const malformed = `not an email ${email()}`
        await failLogins(malformed, 5)
        await refusal(service.authenticate({ email: malformed, password: PASSWORD }))
      })
      it('counts 50 concurrent failures exactly (one atomic increment each)', async () => {
        const key = loginAttemptKey(email())
        const now = clock.now()
        const counts = await Promise.all(
          Array.from({ length: 50 }, () => repos.loginAttemptStore.recordFailure(key, now, WINDOW_MS)),
        )
        assert.deepEqual(
          counts.sort((a, b) => a - b),
          Array.from({ length: 50 }, (_, i) => i + 1),
        )
        assert.deepEqual(await repos.loginAttemptStore.failures(key, now, WINDOW_MS), {
          count: 50,
          lastFailureAt: now,
        })
        assert.equal(await repos.loginAttemptStore.failures(key, now + WINDOW_MS + 1, WINDOW_MS), null)
        assert.equal(await repos.loginAttemptStore.recordFailure(key, now + WINDOW_MS + 1, WINDOW_MS), 1)
      })
      it('lets only the free attempts of a burst of parallel guesses reach a hash', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const verifies = countVerifies(service)
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () => service.authenticate({ email: user.email, password: WRONG })),
        )
        assert.equal(verifies.calls, 5)
        assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value === null).length, 5)
        const refused = results.filter((r) => r.status === 'rejected')
        assert.equal(refused.length, 15)
        for (const r of refused)
          assert.ok((r as PromiseRejectedResult).reason instanceof TooManyAttemptsError)
        // Each guess that got past the check is counted; those the check already refused are not. How
        // many were which depends on how the queries interleaved.
        const counted = (await failures(user.email))?.count ?? 0
        assert.ok(counted >= 5 && counted <= 20, `${counted} failures counted`)
        await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
      })
      it('counts wrong current passwords of changePassword, and refuses it and the login alike', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const verifies = countVerifies(service)
        for (let i = 0; i < 5; i++) {
          await assert.rejects(
            service.changePassword(user.id, WRONG, 'a whole new password'),
            WrongPasswordError,
          )
        }
        assert.equal((await failures(user.email))?.count, 5)
        await refusal(service.changePassword(user.id, PASSWORD, 'a whole new password'))
        await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
        assert.equal(verifies.calls, 5)
        clock.advance(1)
        await service.changePassword(user.id, PASSWORD, 'a whole new password')
        assert.equal(await failures(user.email), null)
      })
      it('is lifted by a completed password reset, which a throttled account can still request', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await failLogins(user.email, 5)
        await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
        await service.initiatePasswordReset(user.email)
        await service.resetPassword(await service.lastToken('reset'), 'my new password 123')
        assert.equal(await failures(user.email), null)
        const found = await service.authenticate({ email: user.email, password: 'my new password 123' })
        assert.equal(found?.id, user.id)
      })
      it('forgets failures once the last one is older than the window', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        await failLogins(user.email, 5)
        clock.advance(900)
        await failLogins(user.email, 1)
        assert.equal((await failures(user.email))?.count, 6, 'a failure exactly a window old still counts')
        clock.advance(901)
        await failLogins(user.email, 1)
        assert.equal((await failures(user.email))?.count, 1)
        await failLogins(user.email, 4)
        await refusal(service.authenticate({ email: user.email, password: PASSWORD }))
      })
      it('forgets expired entries on deleteExpired', async () => {
        const address = email()
        await failLogins(address, 1)
        assert.ok((await repos.loginAttemptStore.deleteExpired(clock.now() + 1)) >= 1)
        assert.equal(await failures(address), null)
      })
      it('is off with loginThrottle: false, or without a store', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        for (const svc of [make({ loginThrottle: false }), make({ loginAttemptStore: undefined })]) {
          assert.equal(svc.loginThrottle, null)
          await failLogins(user.email, 6, svc)
          assert.equal((await svc.authenticate({ email: user.email, password: PASSWORD }))?.id, user.id)
        }
        assert.equal(await failures(user.email), null)
      })
      it('refuses settings out of range at construction', () => {
        for (const loginThrottle of [
          { freeAttempts: 0 },
          { freeAttempts: 101 },
          { maxDelaySeconds: 0.5 },
          { maxDelaySeconds: 600, windowSeconds: 300 },
          'yes',
        ]) {
          assert.throws(() => make({ loginThrottle: loginThrottle as never }), TypeError)
        }
        assert.equal(make({ loginThrottle: { maxDelaySeconds: 3600 } }).loginThrottle?.windowSeconds, 3600)
      })
    })

    describe('token binding and single use under concurrency', () => {
      // Ten at once is enough to lose every race on the old code, and keeps this suite's hashing (six
      // database and id combinations) affordable; the HTTP race tests send twenty.
      const PARALLEL = 10
      const requestedReset = async (verify = true) => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify })
        await service.initiatePasswordReset(user.email)
        return { user, token: await service.lastToken('reset') }
      }
      const outcomes = (results: PromiseSettledResult<unknown>[]) => ({
        won: results.filter((r) => r.status === 'fulfilled').length,
        lost: results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason),
      })

      it('a reset token dies with an email change and never verifies the new address', async () => {
        const { user, token } = await requestedReset()
        const moved = await service.updateUser(user.id, { email: email() })
        assert.equal(moved.isVerified, false)
        await assert.rejects(service.resetPassword(token, 'my new password 123'), InvalidTokenError)
        const after = await service.getUser(user.id)
        assert.equal(after.isVerified, false, 'the new address was not proven')
        assert.equal(after.passwordHash, moved.passwordHash)
      })
      it('a reset token dies when the credential version moves without a password change', async () => {
        const { user, token } = await requestedReset()
        await service.revokeCredentials(user.id)
        await assert.rejects(service.resetPassword(token, 'my new password 123'), InvalidTokenError)
      })
      it('a reset token dies with deactivation followed by reactivation', async () => {
        const { user, token } = await requestedReset()
        await service.updateUser(user.id, { isActive: false })
        await service.updateUser(user.id, { isActive: true })
        await assert.rejects(service.resetPassword(token, 'my new password 123'), InvalidTokenError)
        assert.ok(await service.authenticate({ email: user.email, password: PASSWORD }))
      })
      it('a reset token binds the address, the password and the credential version', async () => {
        const { user, token } = await requestedReset()
        const claims = service.tokens.verify(token, tokenPurposes.reset)
        assert.equal(claims.ef, emailFingerprint(user.email))
        assert.equal(claims.ver, user.authVersion)
        assert.equal(typeof claims.fp, 'string')
        // A token signed without the address binding (as before) is refused.
        const unbound = service.generateToken(user.id, tokenPurposes.reset.audience, { fp: claims.fp })
        await assert.rejects(service.resetPassword(unbound, 'my new password 123'), InvalidTokenError)
      })
      it(`one reset token used ${PARALLEL} times in parallel: exactly one wins, one notice`, async () => {
        const { user, token } = await requestedReset(false)
        service.sent = []
        const passwords = Array.from({ length: PARALLEL }, (_, i) => `parallel new password ${i}`)
        const results = await Promise.allSettled(passwords.map((p) => service.resetPassword(token, p)))
        const { won, lost } = outcomes(results)
        assert.equal(won, 1, `${won} resets were accepted`)
        for (const reason of lost) assert.ok(reason instanceof InvalidTokenError, String(reason))
        const winner = passwords[results.findIndex((r) => r.status === 'fulfilled')]!
        assert.ok(await service.authenticate({ email: user.email, password: winner }))
        const fresh = await service.getUser(user.id)
        assert.equal(fresh.authVersion, user.authVersion + 1)
        assert.equal(fresh.isVerified, true)
        await service.settled()
        assert.equal(service.sent.filter((m) => m.kind === 'password-changed').length, 1)
      })
      it(`one verification link used ${PARALLEL} times in parallel: exactly one wins, the hook runs once`, async () => {
        const user = await service.register({ email: email(), password: PASSWORD })
        const token = await service.lastToken('verify')
        service.calls = []
        const results = await Promise.allSettled(
          Array.from({ length: PARALLEL }, () => service.verify(token, undefined, { password: PASSWORD })),
        )
        const { won, lost } = outcomes(results)
        assert.equal(won, 1, `${won} verifications were accepted`)
        for (const reason of lost) assert.ok(reason instanceof InvalidTokenError, String(reason))
        assert.deepEqual(service.calls, ['postVerification'])
        assert.equal((await service.getUser(user.id)).isVerified, true)
      })
      it(`${PARALLEL} parallel deletes of one user: exactly one gets the user, the others NotFoundError`, async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const results = await Promise.allSettled(
          Array.from({ length: PARALLEL }, () => service.deleteUser(user.id)),
        )
        const { won, lost } = outcomes(results)
        assert.equal(won, 1, `${won} deletes answered the user`)
        for (const reason of lost) assert.ok(reason instanceof NotFoundError, String(reason))
      })
      it(`${PARALLEL} parallel updates each answer the state they wrote themselves`, async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const names = Array.from({ length: PARALLEL }, (_, i) => `writer ${i}`)
        const updated = await Promise.all(
          names.map((displayName) => service.updateUser(user.id, { displayName })),
        )
        assert.deepEqual(
          updated.map((u) => u.displayName),
          names,
        )
        assert.ok(names.includes((await service.getUser(user.id)).displayName ?? ''))
      })
      it(`${PARALLEL} parallel password changes from one current password: exactly one is applied`, async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        service.sent = []
        const passwords = Array.from({ length: PARALLEL }, (_, i) => `changed in parallel ${i}`)
        const results = await Promise.allSettled(
          passwords.map((p) => service.changePassword(user.id, PASSWORD, p)),
        )
        const { won, lost } = outcomes(results)
        assert.equal(won, 1, `${won} changes were accepted`)
        for (const reason of lost) assert.ok(reason instanceof WrongPasswordError, String(reason))
        const winner = passwords[results.findIndex((r) => r.status === 'fulfilled')]!
        assert.ok(await service.authenticate({ email: user.email, password: winner }))
        assert.equal(await service.authenticate({ email: user.email, password: PASSWORD }), null)
        const fresh = await service.getUser(user.id)
        assert.equal(fresh.authVersion, user.authVersion + 1)
        await service.settled()
        assert.equal(service.sent.filter((m) => m.kind === 'password-changed').length, 1)
      })
      it(`${PARALLEL} parallel logins with the right password all succeed: concurrency is no failure`, async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
        const results = await Promise.allSettled(
          Array.from({ length: PARALLEL }, () =>
            service.authenticate({ email: user.email, password: PASSWORD }),
          ),
        )
        const refused = results.filter((r) => r.status === 'rejected')
        assert.deepEqual(
          refused.map((r) => String((r as PromiseRejectedResult).reason)),
          [],
        )
        for (const r of results)
          assert.equal((r as PromiseFulfilledResult<AppUser | null>).value?.id, user.id)
        assert.equal(
          await repos.loginAttemptStore.failures(loginAttemptKey(user.email), clock.now(), 900_000),
          null,
          'nothing is left counted',
        )
      })
      it('a compare-and-set update applies only while the expected state holds', async () => {
        const user = await service.addUser({ email: email(), password: PASSWORD })
        const stale = await repos.userRepository.update(
          user.id,
          { displayName: 'x' },
          { expect: { authVersion: user.authVersion + 1 } },
        )
        assert.equal(stale, null)
        const applied = await repos.userRepository.update(
          user.id,
          { displayName: 'y', incrementAuthVersion: true },
          { expect: { authVersion: user.authVersion, isVerified: false, email: user.email, isActive: true } },
        )
        assert.equal(applied?.displayName, 'y')
        assert.equal(applied?.authVersion, user.authVersion + 1)
        assert.equal(
          await repos.userRepository.update(user.id, { displayName: 'z' }, { expect: { isVerified: true } }),
          null,
        )
        assert.equal((await service.getUser(user.id)).displayName, 'y')
      })
      it('a release gives back one counted attempt, never below zero', async () => {
        const key = loginAttemptKey(email())
        const now = clock.now()
        await repos.loginAttemptStore.release(key)
        assert.equal(await repos.loginAttemptStore.failures(key, now, 900_000), null)
        await repos.loginAttemptStore.recordFailure(key, now, 900_000)
        await repos.loginAttemptStore.recordFailure(key, now, 900_000)
        await repos.loginAttemptStore.release(key)
        assert.equal((await repos.loginAttemptStore.failures(key, now, 900_000))?.count, 1)
        await repos.loginAttemptStore.release(key)
        await repos.loginAttemptStore.release(key)
        assert.equal((await repos.loginAttemptStore.failures(key, now, 900_000))?.count ?? 0, 0)
      })
    })

    describe('registration of a taken username', () => {
      it("refuses plainly and leaves the pending owner's password, link and inbox alone", async () => {
        const svc = make({ userAuthIdentifier: 'username' })
        const username = `pending_${Date.now()}_${n}`
        const owner = await svc.register({ email: email(), username, password: PASSWORD })
        const ownerLink = await svc.lastToken('verify')
        svc.sent = []
        const err = await svc
          .register({ email: email(), username: username.toUpperCase(), password: 'intruder password 1' })
          .then(
            () => assert.fail('registered a taken username'),
            (e: unknown) => e,
          )
        assert.ok(err instanceof UserExistsError, String(err))
        assert.equal(err.field, 'username')
        await svc.settled()
        assert.deepEqual(svc.sent, [], 'nobody was mailed')
        const after = await svc.getUser(owner.id)
        assert.equal(after.passwordHash, owner.passwordHash)
        assert.equal(after.authVersion, owner.authVersion)
        assert.equal((await svc.verify(ownerLink, undefined, { password: PASSWORD })).id, owner.id)
        assert.equal((await svc.authenticate({ username, password: PASSWORD }))?.id, owner.id)
      })
      it('still voids an unproven password when the taken value is the email', async () => {
        const svc = make({ userAuthIdentifier: 'username' })
        const address = email()
        const owner = await svc.register({
          email: address,
          username: `squat_${Date.now()}_${n}`,
          password: PASSWORD,
        })
        const err = await svc
          .register({ email: address, username: `real_${Date.now()}_${n}`, password: 'owner password 1' })
          .then(
            () => assert.fail('registered a taken address'),
            (e: unknown) => e,
          )
        assert.ok(err instanceof UserExistsError)
        assert.equal(err.field, 'email')
        assert.notEqual((await svc.getUser(owner.id)).passwordHash, owner.passwordHash)
        await svc.settled()
        assert.deepEqual(
          svc.sent.filter((m) => m.kind === 'existing').map((m) => m.user.id),
          [owner.id],
        )
      })
    })

    describe('username as the login identifier', () => {
      it('registers, refuses duplicates case-insensitively, and logs in by username', async () => {
        const svc = make({ userAuthIdentifier: 'username', requireVerificationOnRegistration: false })
        const username = `Ada_${Date.now()}`
        const user = await svc.register({ email: email(), username, password: PASSWORD })
        assert.equal(user.username, username.toLowerCase())
        await assert.rejects(
          svc.register({ email: email(), username: username.toUpperCase(), password: PASSWORD }),
          UserExistsError,
        )
        await assert.rejects(svc.register({ email: email(), password: PASSWORD }), ValidationError)
        assert.equal(
          (await svc.authenticate({ username: username.toUpperCase(), password: PASSWORD }))?.id,
          user.id,
        )
        assert.equal(await svc.authenticate({ email: user.email, password: PASSWORD }), null)
      })
    })
  })
}
