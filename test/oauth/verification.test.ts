/**
 * Provider sign-in with `requireVerificationOnRegistration` on (the default): a new identity whose
 * provider did not verify its email gets an unverified account and the verification mail, and logs in
 * through the provider only once the mailed link is followed; a verified one logs in at once, with no mail.
 * A real OpenID Connect provider in the test process, both servers on real sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { fastifyUsers } from '../../src/fastify/index.js'
import type { MailMessage } from '../../src/mail/mailer.js'
import { tokenFromLink } from '../../src/mail/messages.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { Browser } from './browser.js'
import { clientOf, freePort, startIdp, stopIdp, type TestIdp } from './test-idp.js'

const SECRET = 'oauth-test-secret-0123456789-abcdefghijklmnopq'
const ACCOUNTS: Record<string, { email: string; email_verified: boolean }> = {}

describe('provider sign-in when registration needs a verified email', () => {
  let database: TestDatabase<unknown>
  let idp: TestIdp | undefined
  let app: FastifyInstance
  let base: string
  const mails: MailMessage[] = []

  before(async () => {
    database = await createTestDatabase('sqlite')
    const appPort = await freePort()
    base = `http://127.0.0.1:${appPort}`
    idp = await startIdp(base, (id) => ({ ...ACCOUNTS[id] }))
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: database.db as Kysely<unknown>,
      migrate: true,
      authBackend: 'session',
      requireVerificationOnRegistration: true,
      rateLimit: false,
      baseUrl: base,
      mailer: {
        async send(message) {
          mails.push(message)
        },
      },
      oauth: {
        baseUrl: base,
        providers: {
          idp: clientOf(idp),
        },
        redirectAllowList: ['/welcome'],
      },
    })
    await app.listen({ port: appPort, host: '127.0.0.1' })
  })
  after(async () => {
    await app?.close()
    await stopIdp(idp)
    await database?.destroy()
  })

  /** Logs in at the provider as `login` and answers the app's callback (its answer, not followed further). */
  async function signIn(browser: Browser, login: string) {
    return browser.request(
      await browser.toCallback(`${base}/oauth/idp/authorize`, login, String(idp?.issuer)),
    )
  }

  /** The mails sent to `address`, once the background deliveries have had up to 2 s to land. */
  async function mailsTo(address: string, atLeast: number): Promise<MailMessage[]> {
    for (let waited = 0; waited < 2000; waited += 20) {
      const found = mails.filter((mail) => mail.to === address)
      if (found.length >= atLeast) return found
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return mails.filter((mail) => mail.to === address)
  }

  /** The token in the mail to `address` whose subject matches, once it has landed (up to 2 s). */
  async function mailedToken(address: string, subject: RegExp): Promise<string> {
    let mail: MailMessage | undefined
    for (let waited = 0; !mail && waited < 2000; waited += 20) {
      mail = mails.find((m) => m.to === address && subject.test(m.subject))
      if (!mail) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.ok(mail, `a mail matching ${subject} to ${address}`)
    const token = tokenFromLink(/https?:\/\/\S+#token=\S+/.exec(mail.text)?.[0] ?? '')
    assert.ok(token, `a link with a token in: ${mail.text}`)
    return token
  }

  it("an unverified provider email: no credential and the verification mail; the mailbox owner's reset removes the unproven link", async () => {
    // Someone signs in at a provider that did not verify the address, with an address that is not theirs.
    ACCOUNTS.claimer = { email: 'owner@example.com', email_verified: false }
    const claimer = new Browser()
    const refused = await signIn(claimer, 'claimer')
    assert.equal(refused.status, 403, refused.body)
    assert.equal((JSON.parse(refused.body) as { code: string }).code, 'ERR_NOT_VERIFIED')
    assert.equal((await claimer.request(`${base}/users/me`)).status, 401, 'no credential was issued')
    assert.equal((await app.users.getUserBy({ email: 'owner@example.com' }))?.isVerified, false)

    // The mailbox's owner gets the verification mail. Its link alone cannot verify an account without a
    // password (whoever made the account may not own the mailbox): the answer says to reset instead.
    const verifyToken = await mailedToken('owner@example.com', /^Verify your email/)
    const owner = new Browser()
    const needsPassword = await owner.request(`${base}/verify`, { json: { token: verifyToken } })
    assert.equal(needsPassword.status, 400, needsPassword.body)
    assert.equal((JSON.parse(needsPassword.body) as { code: string }).code, 'ERR_PASSWORD_REQUIRED')

    // The owner resets the password: the address is proven, and the link made while it was not is gone.
    assert.equal(
      (await owner.request(`${base}/forgot-password`, { json: { email: 'owner@example.com' } })).status,
      202,
    )
    const resetToken = await mailedToken('owner@example.com', /^Reset your/)
    const reset = await owner.request(`${base}/reset-password`, {
      json: { token: resetToken, password: 'mauve kettle drums at dawn' },
    })
    assert.equal(reset.status, 204, reset.body)
    const login = await owner.request(`${base}/login`, {
      json: { email: 'owner@example.com', password: 'mauve kettle drums at dawn' },
    })
    assert.equal(login.status, 200, login.body)
    assert.deepEqual(JSON.parse((await owner.request(`${base}/users/me/oauth`)).body), [])

    // The provider identity no longer reaches the account: its email is unverified and the account's is.
    const again = await signIn(claimer, 'claimer')
    assert.equal(again.status, 409, again.body)
    assert.equal((JSON.parse(again.body) as { code: string }).code, 'ERR_OAUTH_LINK_REQUIRED')
    assert.equal((await claimer.request(`${base}/users/me`)).status, 401)
  })

  it('a verified provider email logs in at once, and no mail is sent', async () => {
    ACCOUNTS.vic = { email: 'vic@example.com', email_verified: true }
    const browser = new Browser()
    assert.equal((await signIn(browser, 'vic')).status, 303)
    assert.equal((await browser.request(`${base}/users/me`)).status, 200)
    assert.deepEqual(await mailsTo('vic@example.com', 1), [])
  })
})
