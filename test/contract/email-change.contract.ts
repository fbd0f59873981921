/**
 * The contract of the email change over a real database (`requestEmailChange`, `confirmEmailChange`,
 * `cancelEmailChange`): held as pending until confirmed from the new mailbox with the password, one
 * compare-and-set switch, a cancel link for the old address. `email-change.test.ts` runs it on SQLite
 * always and on PostgreSQL and MariaDB when their URLs are set, with UUIDv7 and integer ids. A file of its
 * own, so that the main contract file stays within the per-file time limit on a loaded machine.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import {
  emailFingerprint,
  type IdType,
  InvalidTokenError,
  PasswordRequiredError,
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
import { type AppUser, ManualClock, RecordingService, SECRET, type Sent } from './user-service.contract.js'

const PASSWORD = 'correct horse battery staple'
const PW = { password: PASSWORD }

export function emailChangeContract(dialect: TestDialect, idType: IdType): void {
  describe(`email change on ${dialect.name} with ${idType} ids`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase<unknown>
    let repos: KyselyRepositories<AppUser>
    let clock: ManualClock
    let service: RecordingService
    let n = 0
    const email = () => `change${++n}.${Date.now()}@example.com`
    const make = (options: Partial<ConstructorParameters<typeof RecordingService>[0]> = {}) =>
      new RecordingService({ secret: SECRET, clock, ...repos, ...options })

    before(async () => {
      tdb = await createTestDatabase(dialect.name, { poolSize: 15 })
      await migrateToLatest(tdb.db, { idType })
      repos = createKyselyRepositories<AppUser>(tdb.db, { idType })
    })
    after(async () => {
      await tdb?.destroy()
    })
    beforeEach(() => {
      clock = new ManualClock()
      service = make()
    })

    const verified = async () => service.addUser({ email: email(), password: PASSWORD }, { verify: true })
    const last = async (kind: string) => {
      await service.settled()
      const found = service.sent.filter((s) => s.kind === kind).at(-1)
      assert.ok(found?.token, `a ${kind} mail was sent`)
      return found as Required<Sent>
    }

    it('takes effect only when confirmed: the old address keeps working and gets a cancel link', async () => {
      const user = await verified()
      const next = email()
      const pending = await service.requestEmailChange(user.id, ` ${next.toUpperCase()} `, PASSWORD)
      assert.equal(pending.email, user.email)
      assert.equal(pending.pendingEmail, next)
      assert.equal(pending.isVerified, true)
      assert.equal(pending.authVersion, user.authVersion, 'asking for a change signs nobody out')
      assert.ok(await service.authenticate({ email: user.email, password: PASSWORD }))
      assert.equal(await service.authenticate({ email: next, password: PASSWORD }), null)
      const confirm = await last('email-confirm')
      assert.equal(confirm.to, next)
      const cancel = await last('email-cancel')
      assert.equal(cancel.to, user.email)
      const claims = service.tokens.verify(confirm.token, tokenPurposes.emailChange)
      assert.equal(claims.pf, emailFingerprint(next))
      assert.ok(!JSON.stringify(claims).includes(next), 'the address is not in the token')
    })
    it('needs the current password to start, and changes nothing on a wrong one', async () => {
      const user = await verified()
      await assert.rejects(
        service.requestEmailChange(user.id, email(), 'wrong password!'),
        WrongPasswordError,
      )
      await assert.rejects(service.requestEmailChange(user.id, email(), ''), WrongPasswordError)
      await assert.rejects(service.requestEmailChange(user.id, 'not an address', PASSWORD), ValidationError)
      const after = await service.getUser(user.id)
      assert.equal(after.pendingEmail, null)
      assert.equal(after.email, user.email)
      await service.settled()
      assert.deepEqual(service.sent, [])
    })
    it('wrong current passwords count against the login throttle', async () => {
      const svc = make({ loginThrottle: { freeAttempts: 2, maxDelaySeconds: 60 } })
      const user = await svc.addUser({ email: email(), password: PASSWORD }, { verify: true })
      for (let i = 0; i < 2; i++) {
        await assert.rejects(svc.requestEmailChange(user.id, email(), `guess ${i}`), WrongPasswordError)
      }
      await assert.rejects(svc.requestEmailChange(user.id, email(), PASSWORD), TooManyAttemptsError)
      await assert.rejects(svc.authenticate({ email: user.email, password: PASSWORD }), TooManyAttemptsError)
    })
    it('confirming switches the address, keeps it verified, ends every credential and tells the old address', async () => {
      const user = await verified()
      const next = email()
      await service.requestEmailChange(user.id, next, PASSWORD)
      const { token } = await last('email-confirm')
      const changed = await service.confirmEmailChange(token, PASSWORD)
      assert.equal(changed.email, next)
      assert.equal(changed.pendingEmail, null)
      assert.equal(changed.isVerified, true)
      assert.equal(changed.authVersion, user.authVersion + 1)
      assert.ok(await service.authenticate({ email: next, password: PASSWORD }))
      assert.equal(await service.authenticate({ email: user.email, password: PASSWORD }), null)
      await service.settled()
      assert.ok(service.sent.some((s) => s.kind === 'email-changed' && s.to === user.email))
      await assert.rejects(service.confirmEmailChange(token, PASSWORD), InvalidTokenError)
    })
    it("confirming needs the account's password: a link alone never attaches an address", async () => {
      // Someone prepares an account and asks to move it to a victim's address; the victim clicks.
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const { token } = await last('email-confirm')
      await assert.rejects(service.confirmEmailChange(token, ''), PasswordRequiredError)
      await assert.rejects(service.confirmEmailChange(token, 'the victim guesses'), PasswordRequiredError)
      assert.equal((await service.getUser(user.id)).email, user.email)
    })
    it('a confirm link works once: of 10 parallel confirmations exactly one wins', async () => {
      // No throttle here: every request passes the password check and they race on the write itself.
      service = make({ loginThrottle: false })
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const { token } = await last('email-confirm')
      service.sent = []
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => service.confirmEmailChange(token, PASSWORD)),
      )
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      for (const r of results.filter((r) => r.status === 'rejected')) {
        assert.ok((r as PromiseRejectedResult).reason instanceof InvalidTokenError)
      }
      assert.equal((await service.getUser(user.id)).authVersion, user.authVersion + 1)
      await service.settled()
      assert.equal(service.sent.filter((s) => s.kind === 'email-changed').length, 1)
    })
    it('a newer request kills the older confirm link', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const first = (await last('email-confirm')).token
      const second = email()
      await service.requestEmailChange(user.id, second, PASSWORD)
      await assert.rejects(service.confirmEmailChange(first, PASSWORD), InvalidTokenError)
      const changed = await service.confirmEmailChange((await last('email-confirm')).token, PASSWORD)
      assert.equal(changed.email, second)
    })
    it('asking for the current address drops the pending change', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const { token } = await last('email-confirm')
      const dropped = await service.requestEmailChange(user.id, user.email.toUpperCase(), PASSWORD)
      assert.equal(dropped.pendingEmail, null)
      await assert.rejects(service.confirmEmailChange(token, PASSWORD), InvalidTokenError)
    })
    it('an address taken meanwhile is a conflict, and nothing changes', async () => {
      const user = await verified()
      const wanted = email()
      await service.requestEmailChange(user.id, wanted, PASSWORD)
      const { token } = await last('email-confirm')
      await service.addUser({ email: wanted.toUpperCase(), password: PASSWORD })
      await assert.rejects(service.confirmEmailChange(token, PASSWORD), UserExistsError)
      const after = await service.getUser(user.id)
      assert.equal(after.email, user.email)
      assert.equal(after.authVersion, user.authVersion)
    })
    it('two accounts may ask for one address; the first to confirm gets it', async () => {
      const a = await verified()
      const b = await verified()
      const wanted = email()
      await service.requestEmailChange(a.id, wanted, PASSWORD)
      const tokenA = (await last('email-confirm')).token
      await service.requestEmailChange(b.id, wanted, PASSWORD)
      const tokenB = (await last('email-confirm')).token
      assert.equal((await service.confirmEmailChange(tokenB, PASSWORD)).email, wanted)
      await assert.rejects(service.confirmEmailChange(tokenA, PASSWORD), UserExistsError)
    })
    it('cancelling from the old address drops the change, ends every credential, and works once', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const confirm = (await last('email-confirm')).token
      const cancel = (await last('email-cancel')).token
      const cancelled = await service.cancelEmailChange(cancel)
      assert.equal(cancelled.pendingEmail, null)
      assert.equal(cancelled.email, user.email)
      assert.equal(cancelled.authVersion, user.authVersion + 1)
      await assert.rejects(service.confirmEmailChange(confirm, PASSWORD), InvalidTokenError)
      await assert.rejects(service.cancelEmailChange(cancel), InvalidTokenError)
    })
    it('a cancel link dies once the address has changed', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const cancel = (await last('email-cancel')).token
      await service.confirmEmailChange((await last('email-confirm')).token, PASSWORD)
      await assert.rejects(service.cancelEmailChange(cancel), InvalidTokenError)
    })
    it('tokens of one purpose never pass as another', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const confirm = (await last('email-confirm')).token
      const cancel = (await last('email-cancel')).token
      await assert.rejects(service.confirmEmailChange(cancel, PASSWORD), InvalidTokenError)
      await assert.rejects(service.cancelEmailChange(confirm), InvalidTokenError)
      await assert.rejects(service.verify(confirm, undefined, PW), InvalidTokenError)
      await assert.rejects(service.resetPassword(cancel, 'a whole new password'), InvalidTokenError)
      const verifyToken = service.generateToken(user.id, tokenPurposes.verify.audience, { ver: 0 })
      await assert.rejects(service.confirmEmailChange(verifyToken, PASSWORD), InvalidTokenError)
      await assert.rejects(service.confirmEmailChange('not.a.token', PASSWORD), InvalidTokenError)
    })
    it('a password change or an admin email change kills a pending confirm link', async () => {
      const user = await verified()
      await service.requestEmailChange(user.id, email(), PASSWORD)
      const first = (await last('email-confirm')).token
      await service.changePassword(user.id, PASSWORD, 'another good password')
      await assert.rejects(service.confirmEmailChange(first, 'another good password'), InvalidTokenError)
      await service.requestEmailChange(user.id, email(), 'another good password')
      const second = (await last('email-confirm')).token
      await service.updateUser(user.id, { email: email(), isVerified: true })
      await assert.rejects(service.confirmEmailChange(second, 'another good password'), InvalidTokenError)
    })
  })
}
