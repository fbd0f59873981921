/**
 * Email end to end: the plugin mails over real SMTP (SmtpMailer, nodemailer) to a local smtp-server; the
 * test parses each mail, follows its link, and completes verification, password reset, the taken-address
 * notice and the email change through the HTTP routes, on every backend.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import { fastifyUsers } from '../../src/fastify/index.js'
import { SmtpMailer, tokenFromLink } from '../../src/mail/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { closedPort, type ReceivedMail, type SmtpSink, startSmtpSink } from './smtp-sink.js'

const SECRET = 'mail-flow-secret-0123456789-abcdefghijklmnopq'
const BASE_URL = 'https://app.example.com'
const PASSWORD = 'correct horse battery staple'

/** The credential a login answer carries, as request headers. */
function credentialOf(res: LightMyRequestResponse): Record<string, string> {
  const cookie = res.cookies[0]
  if (cookie) return { cookie: `${cookie.name}=${cookie.value}` }
  return { authorization: `Bearer ${(res.json() as { accessToken: string }).accessToken}` }
}

/** The token of a mailed link, after checking that the link points at the configured site. */
function followLink(mail: ReceivedMail, path: string): string {
  assert.ok(mail.link, `the mail '${mail.subject}' has a link`)
  const url = new URL(mail.link)
  assert.equal(url.origin, BASE_URL, 'links are built from baseUrl only')
  assert.equal(url.pathname, path)
  assert.equal(mail.htmlLink, mail.link, 'the HTML part links to the same place')
  assert.ok(mail.text.length > 0 && mail.html.length > 0, 'a text and an HTML part')
  const token = tokenFromLink(mail.link)
  assert.ok(token)
  return token
}

for (const backend of ['session', 'jwt', 'jwt-cookie'] as const satisfies readonly AuthBackendName[]) {
  describe(`mail over SMTP, end to end, ${backend} backend`, () => {
    let sink: SmtpSink
    let tdb: TestDatabase<unknown>
    let app: FastifyInstance
    let n = 0
    const address = (tag: string) => `${tag}.${backend}.${++n}@example.com`

    before(async () => {
      sink = await startSmtpSink({ auth: { user: 'mailer', pass: 's3cret' } })
      tdb = await createTestDatabase('sqlite')
      app = Fastify()
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: tdb.db,
        migrate: true,
        authBackend: backend,
        mailer: SmtpMailer.fromUrl(sink.url, 'Accounts <no-reply@example.com>'),
        baseUrl: BASE_URL,
        appName: 'Mail Flow',
        openapi: false,
      })
      await app.ready()
    })
    after(async () => {
      await app?.close()
      await tdb?.destroy()
      await sink?.close()
    })

    it('verifies a new address from the mailed link, then logs in', async () => {
      const email = address('ada')
      const registered = await app.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 202)
      const mail = await sink.nextMail({ to: email, subject: /verify/i })
      assert.equal(mail.envelope.to[0], email)
      assert.equal(mail.authUser, 'mailer')
      assert.match(mail.parsed.from?.text ?? '', /no-reply@example\.com/)
      const verified = await app.inject({
        method: 'POST',
        url: '/verify',
        payload: { token: followLink(mail, '/verify'), password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200)
      assert.equal(verified.json().isVerified, true)
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200)
    })

    it('resets a password from the mailed link, whatever Host the request claimed, and tells the owner', async () => {
      const email = address('grace')
      await app.users.addUser({ email, password: PASSWORD }, { verify: true })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      const before = credentialOf(login)
      const asked = await app.inject({
        method: 'POST',
        url: '/forgot-password',
        payload: { email: email.toUpperCase() },
        // A forged Host must not steer the link to an attacker's site (security.md item 32).
        headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
      })
      assert.equal(asked.statusCode, 202)
      const mail = await sink.nextMail({ to: email, subject: /reset/i })
      assert.doesNotMatch(mail.text + mail.html, /evil\.example/)
      const token = followLink(mail, '/reset-password')
      const reset = await app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token, password: 'a new password 123' },
      })
      assert.equal(reset.statusCode, 204)
      const notice = await sink.nextMail({ to: email, subject: /password was changed/i })
      assert.equal(notice.link, undefined, 'the notice carries no token')
      assert.equal((await app.inject({ method: 'GET', url: '/users/me', headers: before })).statusCode, 401)
      assert.equal(
        (
          await app.inject({
            method: 'POST',
            url: '/login',
            payload: { email, password: 'a new password 123' },
          })
        ).statusCode,
        200,
      )
      const again = await app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token, password: 'yet another 456' },
      })
      assert.equal(again.statusCode, 400)
    })

    it('mails the owner of a taken address a notice with a reset link that works', async () => {
      const email = address('taken')
      await app.users.addUser({ email, password: PASSWORD }, { verify: true })
      const res = await app.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: 'someone else 123' },
      })
      assert.equal(res.statusCode, 202)
      const notice = await sink.nextMail({ to: email, subject: /tried to register/i })
      const token = followLink(notice, '/reset-password')
      const reset = await app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token, password: 'owner password 789' },
      })
      assert.equal(reset.statusCode, 204)
    })

    it('on an email change, mails a confirm link to the new address and a cancel link to the old one; the link with the password completes it', async () => {
      const old = address('old')
      const fresh = address('new')
      await app.users.addUser({ email: old, password: PASSWORD }, { verify: true })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: old, password: PASSWORD },
      })
      const changed = await app.inject({
        method: 'PATCH',
        url: '/users/me',
        payload: { email: fresh, currentPassword: PASSWORD },
        headers: credentialOf(login),
      })
      assert.equal(changed.statusCode, 200)
      assert.equal(changed.json().email, old)
      const notice = await sink.nextMail({ to: old, subject: /about to change/i })
      assert.match(notice.text, new RegExp(fresh.replace(/\./g, '\\.')))
      followLink(notice, '/cancel-email')
      const mail = await sink.nextMail({ to: fresh, subject: /confirm your new email/i })
      const confirmed = await app.inject({
        method: 'POST',
        url: '/users/me/email/confirm',
        payload: { token: followLink(mail, '/confirm-email'), password: PASSWORD },
      })
      assert.equal(confirmed.statusCode, 204, confirmed.body)
      const told = await sink.nextMail({ to: old, subject: /email address .* was changed/i })
      assert.match(told.text, new RegExp(fresh.replace(/\./g, '\\.')))
      assert.equal(
        (await app.inject({ method: 'POST', url: '/login', payload: { email: fresh, password: PASSWORD } }))
          .statusCode,
        200,
      )
    })

    it('the cancel link of the old address drops the change', async () => {
      const old = address('keep')
      const fresh = address('never')
      await app.users.addUser({ email: old, password: PASSWORD }, { verify: true })
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: old, password: PASSWORD },
      })
      await app.inject({
        method: 'PATCH',
        url: '/users/me',
        payload: { email: fresh, currentPassword: PASSWORD },
        headers: credentialOf(login),
      })
      const notice = await sink.nextMail({ to: old, subject: /about to change/i })
      const cancelled = await app.inject({
        method: 'POST',
        url: '/users/me/email/cancel',
        payload: { token: followLink(notice, '/cancel-email') },
      })
      assert.equal(cancelled.statusCode, 204, cancelled.body)
      const mail = await sink.nextMail({ to: fresh, subject: /confirm your new email/i })
      const late = await app.inject({
        method: 'POST',
        url: '/users/me/email/confirm',
        payload: { token: followLink(mail, '/confirm-email'), password: PASSWORD },
      })
      assert.equal(late.statusCode, 400)
      assert.equal(late.json().code, 'ERR_INVALID_TOKEN')
    })
  })
}

describe('a mail server that is down', () => {
  let tdb: TestDatabase<unknown>
  let app: FastifyInstance
  const failures: Array<{ kind: string; error: unknown }> = []
  before(async () => {
    tdb = await createTestDatabase('sqlite')
    const { BaseUserService } = await import('../../src/index.js')
    class RecordingFailures extends BaseUserService {
      override async onDeliveryError(error: unknown, context: { kind: string }) {
        failures.push({ kind: context.kind, error })
      }
    }
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: tdb.db,
      migrate: true,
      userServiceClass: RecordingFailures,
      mailer: SmtpMailer.fromUrl(`smtp://127.0.0.1:${await closedPort()}`, 'no-reply@example.com'),
      baseUrl: BASE_URL,
      openapi: false,
    })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await tdb?.destroy()
  })

  it('changes no answer, and hands the failure to onDeliveryError', async () => {
    const fresh = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { email: 'down@example.com', password: PASSWORD },
    })
    const taken = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { email: 'down@example.com', password: PASSWORD },
    })
    const forgot = await app.inject({
      method: 'POST',
      url: '/forgot-password',
      payload: { email: 'down@example.com' },
    })
    assert.equal(fresh.statusCode, 202)
    assert.equal(taken.body, fresh.body)
    assert.equal(forgot.statusCode, 202)
    await app.users.settled()
    assert.deepEqual(failures.map((f) => f.kind).sort(), [
      'existing-account',
      'password-reset',
      'verification',
    ])
    for (const f of failures) assert.ok(f.error instanceof Error)
  })
})
