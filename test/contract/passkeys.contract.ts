/**
 * The passkey contract over a real database, with a software authenticator: registration, usernameless
 * login, counters, single-use and expiring challenges, origin and rpId checks, rename and removal with the
 * step-up, another user's passkey invisible. `passkeys.<db>.test.ts` run it on each database.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { sql } from 'kysely'
import { passwordStepUp } from '../../src/core/passkey-defaults.js'
import { Passkeys } from '../../src/core/passkeys.js'
import {
  BaseUserService,
  ConflictError,
  type IdType,
  InactiveUserError,
  InvalidCredentialsError,
  LastLoginMethodError,
  NotFoundError,
  NotVerifiedError,
  ValidationError,
  WrongPasswordError,
} from '../../src/index.js'
import {
  createKyselyRepositories,
  type KyselyRepositories,
  migrateToLatest,
} from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, type TestDialect } from '../helpers/databases.js'
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js'
import { ManualClock, SECRET } from './user-service.contract.js'

const PASSWORD = 'correct horse battery staple'

/** A service that keeps the reset tokens it would mail, through its overridable sender. */
class ResetTokens extends BaseUserService {
  readonly mailedResetTokens = new Map<string, string>()
  override async sendPasswordResetToken(user: { email: string }, token: string): Promise<void> {
    this.mailedResetTokens.set(user.email, token)
  }
  /** The reset token mailed to `address`, once the background delivery has run (up to 2 s). */
  async resetTokenOf(address: string): Promise<string> {
    await this.initiatePasswordReset(address)
    for (let waited = 0; waited < 2000 && !this.mailedResetTokens.has(address); waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const token = this.mailedResetTokens.get(address)
    assert.ok(token, `a reset token for ${address}`)
    this.mailedResetTokens.delete(address)
    return token
  }
}
const ORIGIN = 'https://app.example.com'
const RP_ID = 'example.com'

interface Event {
  event?: string
  reason?: string
}

export function passkeysContract(dialect: TestDialect, idType: IdType): void {
  describe(`passkeys on ${dialect.name} with ${idType} ids`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase<unknown>
    let repos: KyselyRepositories
    let clock: ManualClock
    let service: BaseUserService
    let passkeys: Passkeys<Awaited<ReturnType<BaseUserService['getUser']>>>
    let events: Event[]
    let changes: string[]
    let n = 0
    const email = () => `pk${++n}.${Date.now()}@example.com`

    before(async () => {
      tdb = await createTestDatabase(dialect.name, { poolSize: 8 })
      await migrateToLatest(tdb.db, { idType })
      repos = createKyselyRepositories(tdb.db, { idType })
    })
    after(async () => {
      await tdb?.destroy()
    })
    beforeEach(() => {
      clock = new ManualClock()
      events = []
      changes = []
      const record = (obj: unknown) => events.push(obj as Event)
      const logger = { debug() {}, info: record, warn: record, error: record }
      const { passkeyRepository, ...rest } = repos
      service = new BaseUserService({ secret: SECRET, clock, logger, ...rest })
      passkeys = new Passkeys(service, {
        repository: passkeyRepository,
        rpId: RP_ID,
        rpName: 'Example',
        origins: [ORIGIN],
        stepUp: passwordStepUp(service),
        onChange: async (_user, change, passkey) => {
          changes.push(`${change}:${passkey.name}`)
        },
      })
    })

    const newUser = async () => service.addUser({ email: email(), password: PASSWORD }, { verify: true })
    const enrol = async (name = 'Laptop') => {
      const user = await newUser()
      const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
      const passkey = await passkeys.register(
        user,
        device.create(await passkeys.registrationOptions(user, { currentPassword: PASSWORD })),
        name,
      )
      return { user, device, passkey }
    }

    it('registers a passkey and logs in with it alone', async () => {
      const { user, device, passkey } = await enrol()
      assert.equal(passkey.name, 'Laptop')
      assert.deepEqual(changes, ['added:Laptop'])
      const listed = await passkeys.list(user)
      assert.deepEqual(
        listed.map((p) => p.id),
        [passkey.id],
      )
      assert.equal(listed[0]?.lastUsedAt, null)
      const same = await passkeys.login(device.get(await passkeys.loginOptions()))
      assert.equal(same.id, user.id)
      assert.ok((await passkeys.list(user))[0]?.lastUsedAt)
      assert.ok(events.some((e) => e.event === 'authn_login_success'))
    })

    it('refuses a replayed assertion: a challenge is used once', async () => {
      const { device } = await enrol()
      const assertion = device.get(await passkeys.loginOptions())
      await passkeys.login(assertion)
      await assert.rejects(passkeys.login(assertion), InvalidCredentialsError)
      assert.equal(events.at(-1)?.reason, 'challenge')
    })

    it('refuses an expired challenge', async () => {
      const { device } = await enrol()
      const options = await passkeys.loginOptions()
      clock.advance(301)
      await assert.rejects(passkeys.login(device.get(options)), InvalidCredentialsError)
      assert.equal(await passkeys.purgeExpired(), 1)
    })

    it('refuses a counter that goes backwards, and logs it; accepts a non-counting authenticator', async () => {
      const { device } = await enrol()
      const credential = device.credentials[0]
      assert.ok(credential)
      await passkeys.login(device.get(await passkeys.loginOptions(), { counter: 5 }))
      await assert.rejects(
        passkeys.login(device.get(await passkeys.loginOptions(), { counter: 3 })),
        InvalidCredentialsError,
      )
      assert.ok(events.some((e) => e.event === 'passkey_counter_regression'))
      await assert.rejects(
        passkeys.login(device.get(await passkeys.loginOptions(), { counter: 5 })),
        InvalidCredentialsError,
      )
      const other = await enrol('Key')
      other.device.counterStep = 0
      await passkeys.login(other.device.get(await passkeys.loginOptions()))
      await passkeys.login(other.device.get(await passkeys.loginOptions()))
    })

    it('refuses a wrong origin and a wrong rpId', async () => {
      const { device } = await enrol()
      device.origin = 'https://evil.example.net'
      await assert.rejects(passkeys.login(device.get(await passkeys.loginOptions())), InvalidCredentialsError)
      device.origin = ORIGIN
      device.rpId = 'evil.example.net'
      await assert.rejects(passkeys.login(device.get(await passkeys.loginOptions())), InvalidCredentialsError)
      const user = await newUser()
      const phished = new SoftwareAuthenticator({ origin: 'https://evil.example.net', rpId: RP_ID })
      await assert.rejects(
        passkeys.register(
          user,
          phished.create(await passkeys.registrationOptions(user, { currentPassword: PASSWORD })),
        ),
        ValidationError,
      )
      assert.deepEqual(await passkeys.list(user), [])
    })

    it('adding a passkey needs a fresh proof before any challenge is made', async () => {
      const user = await newUser()
      await assert.rejects(passkeys.registrationOptions(user), WrongPasswordError)
      await assert.rejects(
        passkeys.registrationOptions(user, { currentPassword: 'wrong one' }),
        WrongPasswordError,
      )
      const { rows } = await sql<{ n: number | string }>`
        select count(*) as n from passkey_challenges where user_id = ${String(user.id)}`.execute(tdb.db)
      assert.equal(Number(rows[0]?.n), 0, 'a refused proof makes no challenge')
      const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
      const options = await passkeys.registrationOptions(user, { currentPassword: PASSWORD })
      await passkeys.register(user, device.create(options), 'Laptop')
      assert.equal((await passkeys.list(user)).length, 1)
    })

    it('binds a registration challenge to its user and refuses one registered twice', async () => {
      const alice = await newUser()
      const bob = await newUser()
      const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
      const response = device.create(await passkeys.registrationOptions(alice, { currentPassword: PASSWORD }))
      await assert.rejects(passkeys.register(bob, response), ValidationError)
      assert.deepEqual(await passkeys.list(bob), [])
      // Bob could not take Alice's challenge: it still works for her, once.
      const again = response
      await passkeys.register(alice, again)
      await assert.rejects(passkeys.register(alice, again), ValidationError)
      // The same credential answering a fresh challenge is already stored.
      const copy = structuredClone(again) as { response: { clientDataJSON: string } }
      const options = await passkeys.registrationOptions(alice, { currentPassword: PASSWORD })
      const data = JSON.parse(Buffer.from(copy.response.clientDataJSON, 'base64url').toString())
      copy.response.clientDataJSON = Buffer.from(
        JSON.stringify({ ...data, challenge: options.challenge }),
      ).toString('base64url')
      await assert.rejects(passkeys.register(alice, copy), ConflictError)
    })

    it('refuses malformed responses and names without a change', async () => {
      const user = await newUser()
      await assert.rejects(passkeys.register(user, { id: 'x' }), ValidationError)
      await assert.rejects(passkeys.register(user, null), ValidationError)
      await assert.rejects(passkeys.login({ response: { clientDataJSON: '%%%' } }), InvalidCredentialsError)
      const { user: owner, passkey } = await enrol()
      await assert.rejects(passkeys.rename(owner, passkey.id, ''), ValidationError)
      await assert.rejects(passkeys.rename(owner, passkey.id, 'x'.repeat(101)), ValidationError)
      await assert.rejects(passkeys.rename(owner, passkey.id, 'a\u0000b'), ValidationError)
      assert.equal((await passkeys.list(owner))[0]?.name, 'Laptop')
    })

    it('renames and removes only your own passkeys; removal needs the password', async () => {
      const { user, passkey } = await enrol()
      const stranger = await newUser()
      assert.equal((await passkeys.rename(user, passkey.id, ' Work laptop ')).name, 'Work laptop')
      await assert.rejects(passkeys.rename(stranger, passkey.id, 'Mine'), NotFoundError)
      await assert.rejects(
        passkeys.remove(stranger, passkey.id, { currentPassword: PASSWORD }),
        NotFoundError,
      )
      await assert.rejects(passkeys.remove(user, passkey.id, {}), WrongPasswordError)
      await assert.rejects(
        passkeys.remove(user, passkey.id, { currentPassword: 'wrong one' }),
        WrongPasswordError,
      )
      assert.equal((await passkeys.list(user)).length, 1)
      await passkeys.remove(user, passkey.id, { currentPassword: PASSWORD })
      assert.deepEqual(await passkeys.list(user), [])
      assert.deepEqual(changes, ['added:Laptop', 'removed:Work laptop'])
    })

    it('a passkey counts as a way to log in when passkeys log in, under the same rule for both removals', async () => {
      const { passkeyRepository, ...rest } = repos
      const logger = { debug() {}, info() {}, warn() {}, error() {} }
      const withPasskeyLogin = new BaseUserService({
        secret: SECRET,
        clock,
        logger,
        ...rest,
        passkeyLogin: true,
      })
      // No password here: the removal's proof is the application's business; this one accepts.
      const ownPasskeys = new Passkeys(withPasskeyLogin, {
        repository: passkeyRepository,
        rpId: RP_ID,
        rpName: 'Example',
        origins: [ORIGIN],
        stepUp: { requireRecentProof: async () => {}, recordProof: async () => {} },
      })
      const identity = { provider: 'idp', subject: `pk-${++n}`, email: email(), emailVerified: true }
      const user = await withPasskeyLogin.oauth.signIn(identity)
      assert.ok(user)
      const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
      const first = await ownPasskeys.register(
        user,
        device.create(await ownPasskeys.registrationOptions(user)),
        'Phone',
      )
      // A service whose passkeys do not log in alone keeps the provider as the last way in.
      await assert.rejects(service.oauth.unlink(user.id, 'idp'), LastLoginMethodError)
      await withPasskeyLogin.oauth.unlink(user.id, 'idp')
      assert.deepEqual(await withPasskeyLogin.oauth.list(user.id), [])
      // Now the passkey is the last way in: refused; with a second one, one of them may go.
      await assert.rejects(ownPasskeys.remove(user, first.id, {}), LastLoginMethodError)
      const second = await ownPasskeys.register(
        user,
        device.create(await ownPasskeys.registrationOptions(user)),
        'Laptop',
      )
      await ownPasskeys.remove(user, first.id, {})
      await assert.rejects(ownPasskeys.remove(user, second.id, {}), LastLoginMethodError)
      assert.deepEqual(
        (await ownPasskeys.list(user)).map((p) => p.id),
        [second.id],
      )
      // An unlink and a passkey removal at once, for a user with one of each: exactly one goes through.
      for (let round = 0; round < 5; round++) {
        const racer = await withPasskeyLogin.oauth.signIn({
          ...identity,
          subject: `pk-${++n}`,
          email: email(),
        })
        assert.ok(racer)
        const key = await ownPasskeys.register(
          racer,
          device.create(await ownPasskeys.registrationOptions(racer)),
          'Key',
        )
        const outcomes = await Promise.allSettled([
          withPasskeyLogin.oauth.unlink(racer.id, 'idp'),
          ownPasskeys.remove(racer, key.id, {}),
        ])
        const refused = outcomes.filter(
          (o) => o.status === 'rejected' && o.reason instanceof LastLoginMethodError,
        )
        assert.equal(refused.length, 1, JSON.stringify(outcomes.map((o) => o.status)))
        const left =
          (await withPasskeyLogin.oauth.list(racer.id)).length + (await ownPasskeys.list(racer)).length
        assert.equal(left, 1)
      }
      // Without a passkey, even a service whose passkeys log in refuses to unlink the last provider.
      const other = await withPasskeyLogin.oauth.signIn({ ...identity, subject: `pk-${++n}`, email: email() })
      assert.ok(other)
      await assert.rejects(withPasskeyLogin.oauth.unlink(other.id, 'idp'), LastLoginMethodError)
    })

    it('refuses inactive and unverified users like the password login', async () => {
      const { user, device } = await enrol()
      await service.updateUser(user.id, { isActive: false })
      await assert.rejects(passkeys.login(device.get(await passkeys.loginOptions())), InactiveUserError)
      const strict = new BaseUserService({
        secret: SECRET,
        clock,
        ...repos,
        requireVerificationOnRegistration: true,
      })
      const strictPasskeys = new Passkeys(strict, {
        repository: repos.passkeyRepository,
        rpId: RP_ID,
        rpName: 'Example',
        origins: [ORIGIN],
        stepUp: passwordStepUp(strict),
      })
      const unverified = await strict.addUser({ email: email(), password: PASSWORD })
      const key = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
      await strictPasskeys.register(
        unverified,
        key.create(await strictPasskeys.registrationOptions(unverified, { currentPassword: PASSWORD })),
      )
      await assert.rejects(
        strictPasskeys.login(key.get(await strictPasskeys.loginOptions())),
        NotVerifiedError,
      )
    })

    it("a passkey added while the address was unproven goes with the mailbox owner's reset; a verified account's stays", async () => {
      const own = new ResetTokens({
        secret: SECRET,
        clock,
        ...repos,
        requireVerificationOnRegistration: false,
      })
      const ownPasskeys = new Passkeys(own, {
        repository: repos.passkeyRepository,
        rpId: RP_ID,
        rpName: 'Example',
        origins: [ORIGIN],
        stepUp: passwordStepUp(own),
      })
      const addPasskey = async (user: Awaited<ReturnType<BaseUserService['getUser']>>) => {
        const key = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID })
        await ownPasskeys.register(
          user,
          key.create(await ownPasskeys.registrationOptions(user, { currentPassword: PASSWORD })),
        )
        return key
      }
      // Registration without verification required: whoever holds the account adds their own passkey.
      const squatted = await own.addUser({ email: email(), password: PASSWORD })
      assert.equal(squatted.isVerified, false)
      const key = await addPasskey(squatted)
      assert.equal((await ownPasskeys.login(key.get(await ownPasskeys.loginOptions()))).id, squatted.id)
      // The mailbox owner resets: the address is proven, and the passkey they never added is gone.
      await own.resetPassword(await own.resetTokenOf(squatted.email), 'the mailbox owner password')
      assert.deepEqual(await ownPasskeys.list(squatted), [])
      await assert.rejects(
        ownPasskeys.login(key.get(await ownPasskeys.loginOptions())),
        InvalidCredentialsError,
      )

      // The control: a verified account keeps its passkeys through a reset.
      const verified = await own.addUser({ email: email(), password: PASSWORD }, { verify: true })
      const kept = await addPasskey(verified)
      await own.resetPassword(await own.resetTokenOf(verified.email), 'the mailbox owner password')
      assert.equal((await ownPasskeys.list(verified)).length, 1)
      assert.equal((await ownPasskeys.login(kept.get(await ownPasskeys.loginOptions()))).id, verified.id)
    })

    it('deletes passkeys with their user', async () => {
      const { user, device } = await enrol()
      await service.deleteUser(user.id)
      await assert.rejects(passkeys.login(device.get(await passkeys.loginOptions())), InvalidCredentialsError)
    })
  })
}
