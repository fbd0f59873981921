/**
 * The contract of two-factor authentication over a real database: TOTP enrolment and confirmation, the
 * two-step login with a single-use challenge, no replay of a code, the throttle, single-use recovery
 * codes, step-up, the secret encrypted at rest, and the notices mailed over real SMTP. Run per database by
 * `two-factor.<dialect>.test.ts`.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import { sql } from 'kysely'
import {
  BaseUserService,
  type IdType,
  InvalidCredentialsError,
  InvalidOtpError,
  MfaChallengeError,
  SecretBox,
  StepUpRequiredError,
  TooManyAttemptsError,
  TwoFactor,
  WrongPasswordError,
} from '../../src/index.js'
import { tokenFromLink } from '../../src/mail/messages.js'
import { SmtpMailer } from '../../src/mail/smtp-mailer.js'
import {
  createKyselyRepositories,
  type KyselyRepositories,
  migrateToLatest,
} from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, type TestDialect } from '../helpers/databases.js'
import { type SmtpSink, startSmtpSink } from '../mail/smtp-sink.js'
import { ManualClock, SECRET } from './user-service.contract.js'

const PASSWORD = 'correct horse battery staple'
const OLD_SECRET = 'an older application secret of at least 32 bytes!!'

/** The code an authenticator app shows for `secret` at `clock`'s time, `offset` steps away. */
function codeAt(secret: string, clock: ManualClock, offset = 0): string {
  const step = Math.floor(clock.now() / 30_000) + offset
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6)
}

export function twoFactorContract(dialect: TestDialect, idType: IdType): void {
  describe(`two-factor on ${dialect.name} with ${idType} ids`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase<unknown>
    let repos: KyselyRepositories
    let sink: SmtpSink
    let clock: ManualClock
    let service: BaseUserService
    let twoFactor: TwoFactor
    let n = 0
    let events: Array<{ event?: string; userId?: unknown; factor?: string }> = []
    const record = (entry: unknown) => void events.push(entry as (typeof events)[number])
    const logger = { debug() {}, info: record, warn: record, error: record }
    const email = () => `tf${++n}.${Date.now()}@example.com`
    const make = (secret: string | readonly string[] = SECRET) => {
      service = new BaseUserService({
        secret,
        clock,
        logger,
        ...repos,
        mailer: SmtpMailer.fromUrl(sink.url, 'noreply@example.com'),
        mail: { baseUrl: 'https://app.example.com', appName: 'Acme' },
      })
      twoFactor = new TwoFactor({
        service,
        secret,
        issuer: 'Acme',
        totpRepository: repos.totpRepository,
        stepUpStore: repos.stepUpStore,
      })
    }

    before(async () => {
      tdb = await createTestDatabase(dialect.name)
      await migrateToLatest(tdb.db, { idType })
      repos = createKyselyRepositories(tdb.db, { idType })
      sink = await startSmtpSink()
    })
    after(async () => {
      await sink?.close()
      await tdb?.destroy()
    })
    beforeEach(() => {
      clock = new ManualClock()
      events = []
      make()
    })

    /** A verified user with TOTP on; returns the user, the secret and the recovery codes. */
    const enrolled = async () => {
      const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
      const enrolment = await twoFactor.enrolTotp(user)
      const recoveryCodes = await twoFactor.confirmTotp(user, codeAt(enrolment.secret, clock))
      await sink.nextMail({ to: user.email, subject: /Two-step login changed/ })
      // The confirming code's step is used up: the next code is the next step's.
      clock.advance(30)
      return { user, secret: enrolment.secret, recoveryCodes, enrolment }
    }

    it("a factor enrolled while the address was unproven goes with the mailbox owner's reset; a verified account's stays", async () => {
      // An account nobody has proven the address of (registration without verification required): whoever
      // holds it enrols their own authenticator.
      const squatted = await service.addUser({ email: email(), password: PASSWORD })
      assert.equal(squatted.isVerified, false)
      const enrolment = await twoFactor.enrolTotp(squatted)
      await twoFactor.confirmTotp(squatted, codeAt(enrolment.secret, clock))
      assert.equal(await twoFactor.isRequired(squatted), true)
      const resetOf = async (address: string) => {
        await service.initiatePasswordReset(address)
        const mail = await sink.nextMail({ to: address, subject: /Reset your/ })
        const token = tokenFromLink(/https?:\/\/\S+#token=\S+/.exec(mail.text)?.[0] ?? '')
        assert.ok(token, mail.text)
        return service.resetPassword(token, 'the mailbox owner password')
      }
      // The mailbox owner resets: the address is proven, and the factor they never chose is gone.
      const owned = await resetOf(squatted.email)
      assert.equal(owned.isVerified, true)
      assert.equal(await twoFactor.isRequired(owned), false)
      assert.ok(
        events.some((e) => e.event === 'second_factor_removed' && String(e.userId) === String(owned.id)),
      )

      // The control: a verified account keeps its factor through a reset.
      const { user } = await enrolled()
      await resetOf(user.email)
      assert.equal(await twoFactor.isRequired(user), true)
    })

    it('enrols with a secret, an otpauth URI and a QR code, and confirms with a first code', async () => {
      const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
      assert.equal(await twoFactor.beginLogin(user), null, 'no second step before enrolment')
      const enrolment = await twoFactor.enrolTotp(user)
      assert.match(enrolment.secret, /^[A-Z2-7]{32}$/)
      assert.ok(enrolment.uri.startsWith('otpauth://totp/Acme:'))
      assert.ok(enrolment.uri.includes(`secret=${enrolment.secret}`))
      assert.ok(enrolment.qrCode.startsWith('data:image/svg+xml;base64,'))
      assert.match(Buffer.from(enrolment.qrCode.split(',')[1]!, 'base64').toString(), /<svg/)
      assert.equal(await twoFactor.beginLogin(user), null, 'an unconfirmed enrolment asks nothing yet')
      await assert.rejects(twoFactor.confirmTotp(user, '000000'), InvalidOtpError)
      const codes = await twoFactor.confirmTotp(user, codeAt(enrolment.secret, clock))
      assert.equal(codes.length, 10)
      assert.equal(new Set(codes).size, 10)
      const mail = await sink.nextMail({ to: user.email, subject: /Two-step login changed/ })
      assert.match(mail.text, /now accepts an authenticator app/)
      assert.ok(
        events.some((e) => e.event === 'second_factor_added' && e.userId === user.id && e.factor === 'totp'),
        'logged as a security event',
      )
    })

    it('stores the secret encrypted (AES-GCM under the app secret), never in base32', async () => {
      const { user, secret } = await enrolled()
      const row = await sql<{ secret: string; recovery_codes: string }>`
        select secret, recovery_codes from user_totp where user_id = ${user.id}`.execute(tdb.db)
      const stored = row.rows[0]!
      assert.ok(!stored.secret.includes(secret))
      assert.ok(stored.secret.startsWith('v1.'))
      assert.equal(new SecretBox(SECRET, 'fastify-users totp secret').open(stored.secret), secret)
      assert.throws(() => new SecretBox(OLD_SECRET, 'fastify-users totp secret').open(stored.secret))
      assert.ok(!stored.recovery_codes.includes('-'), 'recovery codes are stored as digests')
    })

    it('logs in in two steps: a challenge, then the code; the challenge is single-use', async () => {
      const { user, secret } = await enrolled()
      const challenge = await twoFactor.beginLogin(user)
      assert.ok(challenge)
      await assert.rejects(twoFactor.completeLogin(challenge, { code: '000000' }), InvalidCredentialsError)
      const done = await twoFactor.completeLogin(challenge, { code: codeAt(secret, clock) })
      assert.equal(String(done.user.id), String(user.id))
      assert.equal(done.kind, 'totp')
      clock.advance(30)
      await assert.rejects(
        twoFactor.completeLogin(challenge, { code: codeAt(secret, clock) }),
        MfaChallengeError,
        'a used challenge is refused',
      )
    })

    it('refuses a replayed code within its window, and an expired or outdated challenge', async () => {
      const { user, secret } = await enrolled()
      const code = codeAt(secret, clock, 1)
      await twoFactor.completeLogin(await twoFactor.beginLogin(user), { code })
      await assert.rejects(
        twoFactor.completeLogin(await twoFactor.beginLogin(user), { code }),
        InvalidCredentialsError,
        'the same code twice',
      )
      await assert.rejects(
        twoFactor.completeLogin(await twoFactor.beginLogin(user), { code: codeAt(secret, clock) }),
        InvalidCredentialsError,
        'an earlier step than the last accepted one',
      )
      const late = await twoFactor.beginLogin(user)
      clock.advance(310) // the lifetime, plus the tokens' clock tolerance
      await assert.rejects(twoFactor.completeLogin(late, { code: codeAt(secret, clock) }), MfaChallengeError)
      const stale = await twoFactor.beginLogin(user)
      await service.changePassword(user.id, PASSWORD, 'another long passphrase 42')
      clock.advance(60)
      await assert.rejects(twoFactor.completeLogin(stale, { code: codeAt(secret, clock) }), MfaChallengeError)
      await assert.rejects(twoFactor.completeLogin('not a token', { code: '123456' }), MfaChallengeError)
    })

    it('throttles wrong codes per user: 429 after the free attempts, even with a new challenge', async () => {
      const { user, secret } = await enrolled()
      const challenge = await twoFactor.beginLogin(user)
      for (let i = 0; i < 5; i++) {
        await assert.rejects(twoFactor.completeLogin(challenge, { code: '000000' }), InvalidCredentialsError)
      }
      await assert.rejects(
        twoFactor.completeLogin(await twoFactor.beginLogin(user), { code: codeAt(secret, clock) }),
        TooManyAttemptsError,
      )
      clock.advance(2)
      const ok = await twoFactor.completeLogin(await twoFactor.beginLogin(user), {
        code: codeAt(secret, clock),
      })
      assert.equal(String(ok.user.id), String(user.id), 'the delay passes; the right code then works')
    })

    it('accepts each recovery code once', async () => {
      const { user, recoveryCodes } = await enrolled()
      const code = recoveryCodes[3]!
      const done = await twoFactor.completeLogin(await twoFactor.beginLogin(user), {
        recoveryCode: code.toUpperCase(),
      })
      assert.equal(done.kind, 'recovery-code')
      assert.equal(await twoFactor.totp.recoveryCodesLeft(user), 9)
      await assert.rejects(
        twoFactor.completeLogin(await twoFactor.beginLogin(user), { recoveryCode: code }),
        InvalidCredentialsError,
      )
    })

    it('needs a recent proof to disable or regenerate, and mails each change', async () => {
      const { user, secret, recoveryCodes } = await enrolled()
      const credential = `session-${n}`
      await assert.rejects(twoFactor.disableTotp(user, credential), StepUpRequiredError)
      await assert.rejects(twoFactor.regenerateRecoveryCodes(user, credential), StepUpRequiredError)
      await assert.rejects(
        twoFactor.reauthenticate(user, credential, { password: 'wrong' }),
        WrongPasswordError,
      )
      await assert.rejects(twoFactor.reauthenticate(user, credential, { code: '000000' }), InvalidOtpError)
      await twoFactor.reauthenticate(user, credential, { code: codeAt(secret, clock) })
      await assert.rejects(
        twoFactor.disableTotp(user, 'another-credential'),
        StepUpRequiredError,
        'a proof counts for its own credential only',
      )
      const fresh = await twoFactor.regenerateRecoveryCodes(user, credential)
      assert.equal(fresh.length, 10)
      await sink.nextMail({ to: user.email, subject: /New recovery codes/ })
      await assert.rejects(
        twoFactor.completeLogin(await twoFactor.beginLogin(user), { recoveryCode: recoveryCodes[0] }),
        InvalidCredentialsError,
        'old recovery codes stop working',
      )
      clock.advance(11 * 60)
      await assert.rejects(twoFactor.disableTotp(user, credential), StepUpRequiredError, 'the proof expired')
      assert.ok((await twoFactor.stepUp.purgeExpired()) >= 1, 'the sweep forgets expired proofs')
      await twoFactor.reauthenticate(user, credential, { password: PASSWORD })
      await twoFactor.disableTotp(user, credential)
      const mail = await sink.nextMail({ to: user.email, subject: /Two-step login changed/ })
      assert.match(mail.text, /no longer accepts an authenticator app/)
      assert.equal(await twoFactor.beginLogin(user), null, 'off: the password alone logs in')
      assert.deepEqual(
        events
          .filter((e) => e.userId === user.id && /^(second_factor|recovery_codes)/.test(e.event ?? ''))
          .map((e) => e.event),
        ['second_factor_added', 'recovery_codes_regenerated', 'second_factor_removed'],
        'each change is logged as a security event',
      )
    })

    it('rotates the secret: a list decrypts with every secret and encrypts with the first', async () => {
      make(OLD_SECRET)
      const { user, secret } = await enrolled()
      make([SECRET, OLD_SECRET])
      const done = await twoFactor.completeLogin(await twoFactor.beginLogin(user), {
        code: codeAt(secret, clock),
      })
      assert.equal(String(done.user.id), String(user.id))
    })

    it('lets an admin remove the factor without a proof, and tells the user', async () => {
      const { user } = await enrolled()
      assert.equal(await twoFactor.adminDisableTotp(user), true)
      await sink.nextMail({ to: user.email, subject: /Two-step login changed/ })
      assert.equal(await twoFactor.adminDisableTotp(user), false)
    })
  })
}
