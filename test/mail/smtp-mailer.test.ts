/**
 * `SmtpMailer` against a real SMTP server (`smtp-server` on 127.0.0.1): every kind of user mail is sent,
 * received, parsed with mailparser and checked, links included; then the user service sends its mails
 * through it end to end, and a server that is down never fails a registration.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BaseUserService, type UserMailKind } from '../../src/index.js'
import { composeUserMail, type MailLinkOptions, SmtpMailer } from '../../src/mail/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { closedPort, type SmtpSink, startSmtpSink } from './smtp-sink.js'

const SECRET = 'smtp-mailer-test-secret-0123456789-abcdefgh'
const FROM = 'Example App <no-reply@example.com>'
const LINKS: MailLinkOptions = { baseUrl: 'https://app.example.com', appName: 'Example' }
const PASSWORD = 'correct horse battery staple'

describe('SmtpMailer over real SMTP', () => {
  let sink: SmtpSink
  let mailer: SmtpMailer

  before(async () => {
    sink = await startSmtpSink()
    mailer = SmtpMailer.fromUrl(sink.url, FROM)
  })
  after(async () => {
    mailer.close()
    await sink.close()
  })

  const kinds: { kind: UserMailKind; token?: string; newEmail?: string; path?: string }[] = [
    { kind: 'verification', token: 'verify.token-1', path: '/verify' },
    { kind: 'password-reset', token: 'reset.token-2', path: '/reset-password' },
    { kind: 'existing-account', token: 'reset.token-3', path: '/reset-password' },
    { kind: 'password-changed' },
    { kind: 'email-changed', newEmail: 'new@example.com' },
    { kind: 'email-change-confirm', token: 'change.token-4', path: '/confirm-email' },
    {
      kind: 'email-change-requested',
      token: 'cancel.token-5',
      newEmail: 'new@example.com',
      path: '/cancel-email',
    },
  ]

  for (const { kind, token, newEmail, path } of kinds) {
    it(`delivers the ${kind} mail with its text and HTML parts`, async () => {
      const to = `${kind}@example.com`
      const composed = composeUserMail(kind, { to, token, newEmail }, LINKS)
      await mailer.send(composed)
      const mail = await sink.nextMail({ to })

      assert.equal(mail.subject, composed.subject)
      assert.deepEqual(mail.envelope.to, [to])
      assert.equal(mail.envelope.from, 'no-reply@example.com')
      assert.equal(mail.parsed.from?.text, '"Example App" <no-reply@example.com>')
      assert.equal(mail.parsed.headers.get('auto-submitted'), 'auto-generated')
      assert.equal(mail.text.trim(), composed.text.trim())
      assert.match(mail.html, /^<!doctype html>/i)
      assert.ok(mail.html.includes('<p>'), 'the HTML part has paragraphs')

      if (token) {
        assert.ok(mail.link?.startsWith(`${LINKS.baseUrl}/`), `link ${mail.link} starts with the base URL`)
        assert.equal(new URL(mail.link!).pathname, path)
        assert.equal(mail.token, token)
        assert.equal(mail.htmlLink, mail.link, 'the HTML part links to the same URL')
      } else {
        assert.equal(mail.link, undefined, 'a notice carries no link')
        assert.equal(mail.htmlLink, undefined)
      }
      if (newEmail) assert.ok(mail.text.includes(newEmail))
    })
  }

  it('escapes HTML in what the mail repeats back', async () => {
    const to = 'escape@example.com'
    await mailer.send(
      composeUserMail('existing-account', { to, token: 't' }, { ...LINKS, appName: '<b>Evil</b>' }),
    )
    const mail = await sink.nextMail({ to })
    assert.ok(!mail.html.includes('<b>Evil</b>'))
    assert.ok(mail.html.includes('&lt;b&gt;Evil&lt;/b&gt;'))
  })

  it('refuses to send without TLS when requireTLS is set and the server offers no STARTTLS', async () => {
    const strict = SmtpMailer.fromUrl(`${sink.url}?requireTLS=true`, FROM)
    await assert.rejects(strict.send(composeUserMail('password-changed', { to: 'tls@example.com' }, LINKS)))
    assert.equal(
      sink.mails.some((m) => m.to === 'tls@example.com'),
      false,
    )
  })
})

describe('SmtpMailer with AUTH', () => {
  const credentials = { user: 'mailer@example.com', pass: 'p@ss:w/rd' }
  let sink: SmtpSink

  before(async () => {
    sink = await startSmtpSink({ auth: credentials })
  })
  after(() => sink.close())

  it('logs in with the credentials of the SMTP URL (percent-decoded) and takes from= from its query', async () => {
    const url = `${sink.url}?from=${encodeURIComponent(FROM)}`
    assert.ok(url.includes('mailer%40example.com:p%40ss%3Aw%2Frd@'))
    const mailer = SmtpMailer.fromUrl(url)
    assert.equal(mailer.from, FROM)
    await mailer.verify()
    await mailer.send(composeUserMail('verification', { to: 'auth@example.com', token: 't' }, LINKS))
    const mail = await sink.nextMail({ to: 'auth@example.com' })
    assert.equal(mail.authUser, credentials.user)
    assert.equal(mail.parsed.from?.value[0]?.address, 'no-reply@example.com')
  })

  it('rejects when the credentials are wrong', async () => {
    const mailer = new SmtpMailer({
      host: sink.host,
      port: sink.port,
      auth: { user: credentials.user, pass: 'wrong' },
      from: FROM,
    })
    await assert.rejects(
      mailer.send(composeUserMail('password-changed', { to: 'nope@example.com' }, LINKS)),
      /Invalid username or password|auth/i,
    )
  })

  it('rejects when the server requires AUTH and none is given', async () => {
    const mailer = new SmtpMailer({ host: sink.host, port: sink.port, from: FROM })
    await assert.rejects(mailer.send(composeUserMail('password-changed', { to: 'anon@example.com' }, LINKS)))
  })
})

describe('SmtpMailer configuration', () => {
  it('refuses a config without from or host, and malformed URLs', () => {
    assert.throws(() => new SmtpMailer({ host: 'localhost' }), { name: 'TypeError', message: /from/ })
    assert.throws(() => new SmtpMailer({ from: 'a@example.com' }), { name: 'TypeError', message: /host/ })
    assert.throws(() => SmtpMailer.fromUrl('smtp://localhost:25'), { name: 'TypeError', message: /from/ })
    assert.throws(() => SmtpMailer.fromUrl('http://localhost', 'a@example.com'), {
      name: 'TypeError',
      message: /smtp:\/\/ or smtps:\/\//,
    })
    assert.throws(() => SmtpMailer.fromUrl('not a url', 'a@example.com'), TypeError)
    assert.throws(() => SmtpMailer.fromUrl('smtp://localhost?fromm=x', 'a@example.com'), {
      name: 'TypeError',
      message: /unknown SMTP URL parameter 'fromm'/,
    })
    assert.throws(() => SmtpMailer.fromUrl('smtp://localhost?requireTLS=yes', 'a@example.com'), TypeError)
    assert.throws(() => new SmtpMailer({ host: 'localhost', from: 'a@example.com\r\nBcc: x@evil.test' }), {
      name: 'TypeError',
      message: /single line/,
    })
    assert.throws(() => new SmtpMailer({ host: 'localhost', port: 70_000, from: 'a@example.com' }), TypeError)
  })

  it('prefers an explicit from over the URL query', () => {
    const mailer = SmtpMailer.fromUrl(
      'smtps://u:p@smtp.example.com?from=url%40example.com',
      'arg@example.com',
    )
    assert.equal(mailer.from, 'arg@example.com')
    assert.equal(SmtpMailer.fromUrl('smtp://localhost?from=url%40example.com').from, 'url@example.com')
  })
})

describe('SmtpMailer when the server is down', () => {
  it('makes send reject', async () => {
    const mailer = new SmtpMailer({ host: '127.0.0.1', port: await closedPort(), from: FROM })
    await assert.rejects(
      mailer.send(composeUserMail('password-changed', { to: 'down@example.com' }, LINKS)),
      /ECONNREFUSED/,
    )
  })

  describe('with the user service on SQLite', () => {
    let database: TestDatabase<unknown>
    before(async () => {
      database = await createTestDatabase('sqlite')
      await migrateToLatest(database.db)
    })
    after(() => database.destroy())

    it('still registers the user, and calls onDeliveryError', async () => {
      const failures: { kind: UserMailKind; email: string; error: unknown }[] = []
      const logged: Record<string, unknown>[] = []
      class Service extends BaseUserService {
        override async onDeliveryError(
          error: unknown,
          context: { kind: UserMailKind; user: { email: string } },
        ) {
          failures.push({ kind: context.kind, email: context.user.email, error })
        }
      }
      const service = new Service({
        secret: SECRET,
        ...createKyselyRepositories(database.db),
        mailer: new SmtpMailer({ host: '127.0.0.1', port: await closedPort(), from: FROM }),
        mail: LINKS,
        logger: { info() {}, warn() {}, error: (obj) => void logged.push(obj) },
      })
      const user = await service.register({ email: 'Down@Example.com', password: PASSWORD })
      assert.equal(user.email, 'down@example.com')
      assert.equal(user.isVerified, false)
      await service.settled()

      assert.equal(failures.length, 1)
      assert.equal(failures[0]?.kind, 'verification')
      assert.equal(failures[0]?.email, 'down@example.com')
      assert.match(String(failures[0]?.error), /ECONNREFUSED/)
      assert.ok(logged.some((entry) => entry.event === 'mail_failed' && entry.kind === 'verification'))
      assert.ok(await service.getUserBy({ email: 'down@example.com' }), 'the user was stored')
    })
  })
})

describe('the user service sends its mails through SmtpMailer', () => {
  let database: TestDatabase<unknown>
  let sink: SmtpSink
  let mailer: SmtpMailer
  let service: BaseUserService

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    sink = await startSmtpSink()
    mailer = SmtpMailer.fromUrl(sink.url, FROM)
    service = new BaseUserService({
      secret: SECRET,
      ...createKyselyRepositories(database.db),
      mailer,
      mail: LINKS,
    })
  })
  after(async () => {
    await service.settled()
    mailer.close()
    await sink.close()
    await database.destroy()
  })

  it('verification: the link of the received mail verifies the address', async () => {
    await service.register({ email: 'ada@example.com', password: PASSWORD })
    const mail = await sink.nextMail({ to: 'ada@example.com', subject: /^Verify/ })
    assert.ok(mail.link?.startsWith(`${LINKS.baseUrl}/verify#token=`))
    const verified = await service.verify(mail.token!, undefined, { password: PASSWORD })
    assert.equal(verified.isVerified, true)
  })

  it('a second registration with the address mails its owner a notice with a reset link', async () => {
    await assert.rejects(service.register({ email: 'ADA@example.com', password: 'another password 123' }), {
      code: 'ERR_USER_EXISTS',
    })
    const mail = await sink.nextMail({ to: 'ada@example.com', subject: /tried to register/ })
    assert.ok(mail.link?.startsWith(`${LINKS.baseUrl}/reset-password#token=`))
  })

  it('password reset: the link resets the password once, and a change notice follows', async () => {
    await service.initiatePasswordReset('Ada@Example.com')
    const mail = await sink.nextMail({ to: 'ada@example.com', subject: /^Reset/ })
    assert.ok(mail.link?.startsWith(`${LINKS.baseUrl}/reset-password#token=`))
    await service.resetPassword(mail.token!, 'a brand new password')
    await sink.nextMail({ to: 'ada@example.com', subject: /password was changed/ })
    assert.ok(await service.authenticate({ email: 'ada@example.com', password: 'a brand new password' }))
    await assert.rejects(service.resetPassword(mail.token!, 'yet another password'), {
      code: 'ERR_INVALID_TOKEN',
    })
  })

  it('an email change tells the old address', async () => {
    const ada = await service.getUserBy({ email: 'ada@example.com' })
    await service.updateUser(ada!.id, { email: 'ada.new@example.com' })
    const mail = await sink.nextMail({ to: 'ada@example.com', subject: /email address .* was changed/ })
    assert.ok(mail.text.includes('ada.new@example.com'))
  })
})
