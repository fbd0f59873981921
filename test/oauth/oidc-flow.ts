/**
 * Sign-in with a real OpenID Connect provider (`oidc-provider`) in the test process, both servers on real
 * sockets on 127.0.0.1, and a client that follows the redirects and submits the provider's login and
 * consent forms as a browser would. Run per database (`oidc-*.test.ts`).
 */
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { runCli } from '../../src/cli/run-cli.js'
import { fastifyUsers } from '../../src/fastify/index.js'
import { FlowSealer } from '../../src/fastify/oauth/flow-cookie.js'
import { FLOW_COOKIE } from '../../src/fastify/routes/oauth-routes.js'
import { createTestDatabase, type TestDatabase, type TestDialect } from '../helpers/databases.js'
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js'
import { Browser } from './browser.js'
import { clientOf, freePort, startIdp, stopIdp, type TestIdp } from './test-idp.js'

const SECRET = 'oauth-test-secret-0123456789-abcdefghijklmnopq'
const PASSWORD = 'correct horse battery staple'

/** The provider's users: login name → claims. */
const ACCOUNTS: Record<string, { email: string; email_verified: boolean }> = {}

export function oidcSuite(dialect: TestDialect): void {
  describe(`sign-in with an OpenID Connect provider on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: TestDatabase<unknown>
    let idp: TestIdp | undefined
    let issuer: string
    let app: FastifyInstance
    let base: string

    before(async () => {
      database = await createTestDatabase(dialect.name)
      const appPort = await freePort()
      base = `http://127.0.0.1:${appPort}`
      idp = await startIdp(base, (id) => ({ ...ACCOUNTS[id] }))
      issuer = idp.issuer

      app = Fastify()
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: database.db as Kysely<unknown>,
        migrate: true,
        authBackend: 'session',
        requireVerificationOnRegistration: false,
        rateLimit: false,
        routes: { twoFactor: { issuer: 'Test' } },
        passkeys: { rpId: '127.0.0.1', rpName: 'Test', origins: [base] },
        oauth: {
          baseUrl: base,
          providers: {
            idp: clientOf(idp),
            'idp-form': { ...clientOf(idp), responseMode: 'form_post' },
          },
          redirectAllowList: ['/welcome', '/settings'],
          storeTokens: true,
        },
      })
      app.get('/welcome', async () => ({ ok: true }))
      app.get('/settings', async () => ({ ok: true }))
      await app.listen({ port: appPort, host: '127.0.0.1' })
    })
    after(async () => {
      await app?.close()
      await stopIdp(idp)
      await database?.destroy()
    })

    /** Starts at `start`, logs in at the provider as `login`, and stops at the callback URL (not requested). */
    async function toCallback(
      browser: Browser,
      start: string,
      login: string,
      method = 'GET',
    ): Promise<string> {
      return browser.toCallback(start, login, issuer, method)
    }

    async function signIn(browser: Browser, login: string, redirectTo?: string) {
      const query = redirectTo ? `?redirectTo=${encodeURIComponent(redirectTo)}` : ''
      const callback = await toCallback(browser, `${base}/oauth/idp/authorize${query}`, login)
      return browser.request(callback)
    }

    async function me(browser: Browser) {
      const answer = await browser.request(`${base}/users/me`)
      return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> }
    }

    async function linked(browser: Browser) {
      return JSON.parse((await browser.request(`${base}/users/me/oauth`)).body) as Array<
        Record<string, unknown>
      >
    }

    function problemCode(body: string): string {
      return (JSON.parse(body) as { code: string }).code
    }

    it('a new identity: the whole login through redirects creates a verified user without a password', async () => {
      ACCOUNTS.ada = { email: 'ada@example.com', email_verified: true }
      const browser = new Browser()
      const start = await browser.request(`${base}/oauth/idp/authorize?redirectTo=%2Fsettings`)
      const url = new URL(String(start.location))
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256')
      assert.ok(url.searchParams.get('code_challenge'))
      assert.ok(url.searchParams.get('state'))
      assert.ok(url.searchParams.get('nonce'))
      assert.ok(browser.jar.has(FLOW_COOKIE))

      const done = await signIn(browser, 'ada', '/settings')
      assert.equal(done.status, 303, done.body)
      assert.equal(done.location, `${base}/settings`)
      assert.ok(!browser.jar.has(FLOW_COOKIE), 'the flow cookie is used once')
      const user = await me(browser)
      assert.equal(user.status, 200)
      assert.equal(user.body.email, 'ada@example.com')
      assert.equal(user.body.isVerified, true)
      const accounts = await linked(browser)
      assert.deepEqual(
        accounts.map((a) => [a.provider, a.subject, a.email]),
        [['idp', 'ada', 'ada@example.com']],
      )
      // The provider's tokens are kept (storeTokens), readable through the service, sealed in the database.
      const tokens = await app.users.oauth.tokens(String(user.body.id), 'idp')
      assert.ok(tokens && tokens.accessToken.length > 10, JSON.stringify(tokens))
      assert.ok(tokens.expiresAt !== null && tokens.expiresAt > Date.now())
      const raw = await (database.db as Kysely<Record<string, Record<string, unknown>>>)
        .selectFrom('oauth_accounts')
        .select('tokens')
        .where('subject', '=', 'ada')
        .executeTakeFirstOrThrow()
      assert.ok(typeof raw.tokens === 'string' && !raw.tokens.includes(tokens.accessToken))
      // No password: a password login is refused like a wrong one.
      const login = await new Browser().request(`${base}/login`, {
        json: { email: 'ada@example.com', password: '!oauth' },
      })
      assert.equal(login.status, 401)
      assert.equal(problemCode(login.body), 'ERR_INVALID_CREDENTIALS')

      // The same identity again logs in the same user.
      const again = new Browser()
      assert.equal((await signIn(again, 'ada')).location, `${base}/welcome`)
      assert.equal((await me(again)).body.id, user.body.id)

      // The last way to log in cannot be unlinked.
      const unlink = await browser.request(`${base}/users/me/oauth/idp`, { method: 'DELETE' })
      assert.equal(unlink.status, 409)
      assert.equal(problemCode(unlink.body), 'ERR_LAST_LOGIN_METHOD')
      assert.equal((await linked(browser)).length, 1)
    })

    it('an account with a second factor still answers it after the provider: no credential before', async () => {
      ACCOUNTS.tess = { email: 'tess@example.com', email_verified: true }
      const browser = new Browser()
      assert.equal((await signIn(browser, 'tess')).status, 303)
      const enrol = await browser.request(`${base}/users/me/2fa/totp`, { method: 'POST' })
      assert.equal(enrol.status, 200, enrol.body)
      const { secret } = JSON.parse(enrol.body) as { secret: string }
      const step = BigInt(Math.floor(Date.now() / 30_000))
      const confirm = await browser.request(`${base}/users/me/2fa/totp/confirm`, {
        json: { code: generateHOTP(decodeBase32IgnorePadding(secret), step, 6) },
      })
      assert.equal(confirm.status, 200, confirm.body)
      const { recoveryCodes } = JSON.parse(confirm.body) as { recoveryCodes: string[] }

      const other = new Browser()
      const answer = await signIn(other, 'tess', '/settings')
      assert.equal(answer.status, 303, answer.body)
      const target = new URL(String(answer.location))
      assert.equal(target.pathname, '/settings')
      const handed = new URLSearchParams(target.hash.slice(1))
      assert.deepEqual(handed.get('methods')?.split(','), ['totp', 'recovery'])
      assert.equal((await me(other)).status, 401, 'no credential before the second step')
      const done = await other.request(`${base}/login/2fa`, {
        json: { challenge: handed.get('mfaChallenge'), recoveryCode: recoveryCodes[0] },
      })
      assert.equal(done.status, 200, done.body)
      assert.equal((await me(other)).body.email, 'tess@example.com')
    })

    it('concurrent unlinks of a passwordless user always leave one way to log in', async () => {
      ACCOUNTS.solo = { email: 'solo@example.com', email_verified: true }
      const browser = new Browser()
      assert.equal((await signIn(browser, 'solo')).status, 303)
      const user = await me(browser)
      const others = ['second', 'third', 'fourth', 'fifth']
      for (const provider of others) {
        await app.users.oauth.link(String(user.body.id), {
          provider,
          subject: `solo-at-${provider}`,
          email: null,
          emailVerified: false,
        })
      }
      const answers = await Promise.all(
        ['idp', ...others].map((provider) =>
          browser.request(`${base}/users/me/oauth/${provider}`, { method: 'DELETE' }),
        ),
      )
      const statuses = answers.map((answer) => answer.status).sort()
      assert.deepEqual(statuses, [204, 204, 204, 204, 409], answers.map((a) => a.body).join('\n'))
      assert.equal((await linked(browser)).length, 1)
    })

    it('a passkey is a way to log in: the last provider unlinks, then the last passkey cannot be removed', async () => {
      ACCOUNTS.pia = { email: 'pia@example.com', email_verified: true }
      const browser = new Browser()
      assert.equal((await signIn(browser, 'pia')).status, 303)
      const options = await browser.request(`${base}/users/me/passkeys/options`, { method: 'POST' })
      assert.equal(options.status, 200, options.body)
      const device = new SoftwareAuthenticator({ origin: base, rpId: '127.0.0.1' })
      const created = await browser.request(`${base}/users/me/passkeys`, {
        json: { credential: device.create(JSON.parse(options.body) as never) },
      })
      assert.equal(created.status, 201, created.body)
      const passkey = JSON.parse(created.body) as { id: string }

      // No password, one provider, one passkey: the provider is not the last way to log in.
      const unlink = await browser.request(`${base}/users/me/oauth/idp`, { method: 'DELETE' })
      assert.equal(unlink.status, 204, unlink.body)
      assert.deepEqual(await linked(browser), [])

      // The passkey alone logs in.
      const other = new Browser()
      const loginOptions = await other.request(`${base}/login/passkey/options`, { method: 'POST' })
      const login = await other.request(`${base}/login/passkey`, {
        json: device.get(JSON.parse(loginOptions.body) as never),
      })
      assert.equal(login.status, 200, login.body)
      assert.equal((await me(other)).body.email, 'pia@example.com')

      // Now it is the last way to log in: its removal is refused, whatever proof comes with it.
      const remove = await other.request(`${base}/users/me/passkeys/${passkey.id}`, { method: 'DELETE' })
      assert.equal(remove.status, 409, remove.body)
      assert.equal(problemCode(remove.body), 'ERR_LAST_LOGIN_METHOD')
      assert.equal(
        JSON.parse((await other.request(`${base}/users/me/passkeys`)).body).length,
        1,
        'the passkey remains',
      )
    })

    it('a provider answering with a cross-site form POST (response_mode=form_post) completes the login', async () => {
      ACCOUNTS.fay = { email: 'fay@example.com', email_verified: true }
      const browser = new Browser()
      const first = await browser.request(`${base}/oauth/idp-form/authorize?redirectTo=%2Fsettings`)
      assert.equal(new URL(String(first.location)).searchParams.get('response_mode'), 'form_post')
      let page = await browser.follow(String(first.location))
      const formAction = `action="${base}/oauth/idp-form/callback"`
      for (let i = 0; i < 4 && !page.body.includes(formAction); i++) {
        const fields: Record<string, string> = /name="login"/.test(page.body)
          ? { login: 'fay', password: 'any' }
          : {}
        const submitted = await browser.submit(page, fields)
        page = submitted.location ? await browser.follow(submitted.location) : submitted
      }
      assert.ok(page.body.includes(formAction), `no form POST page at ${page.url}`)
      // The provider's page posts the answer from the provider's origin, with Apple's one-time `user` field.
      const posted = await browser.submit(page, { user: '{"name":{"firstName":"Fay"}}' }, issuer)
      assert.equal(posted.status, 303, posted.body)
      const getCallback = new URL(String(posted.location))
      assert.equal(getCallback.pathname, '/oauth/idp-form/callback')
      assert.ok(getCallback.searchParams.get('code'))
      assert.equal(getCallback.searchParams.get('user'), null, 'only the protocol fields are forwarded')
      const done = await browser.request(getCallback.href)
      assert.equal(done.status, 303, done.body)
      assert.equal(done.location, `${base}/settings`)
      assert.equal((await me(browser)).body.email, 'fay@example.com')
      // A provider that answers by redirect has no POST callback.
      const notForm = await new Browser().request(`${base}/oauth/idp/callback`, {
        form: { code: 'x', state: 'y' },
        origin: issuer,
      })
      assert.equal(notForm.status, 404)
    })

    it('a provider email not verified is a new, unverified account', async () => {
      ACCOUNTS.eve = { email: 'eve@example.com', email_verified: false }
      const browser = new Browser()
      assert.equal((await signIn(browser, 'eve')).status, 303)
      assert.equal((await me(browser)).body.isVerified, false)
    })

    it('a tampered state is refused and nothing is created', async () => {
      ACCOUNTS.sam = { email: 'sam@example.com', email_verified: true }
      const browser = new Browser()
      const callback = new URL(await toCallback(browser, `${base}/oauth/idp/authorize`, 'sam'))
      callback.searchParams.set('state', 'forged-state')
      const answer = await browser.request(callback.href)
      assert.equal(answer.status, 400)
      assert.equal(problemCode(answer.body), 'ERR_OAUTH_CALLBACK')
      assert.equal((await me(browser)).status, 401)
      assert.equal(await app.users.getUserBy({ email: 'sam@example.com' }), null)
    })

    it('a callback without the browser-bound flow cookie is refused', async () => {
      ACCOUNTS.tom = { email: 'tom@example.com', email_verified: true }
      const victim = new Browser()
      const callback = await toCallback(victim, `${base}/oauth/idp/authorize`, 'tom')
      const attacker = new Browser()
      const answer = await attacker.request(callback)
      assert.equal(answer.status, 400)
      assert.equal(problemCode(answer.body), 'ERR_OAUTH_CALLBACK')
    })

    it("a flow started for one provider is refused at another provider's callback", async () => {
      ACCOUNTS.uma = { email: 'uma@example.com', email_verified: true }
      const browser = new Browser()
      const callback = new URL(await toCallback(browser, `${base}/oauth/idp/authorize`, 'uma'))
      // Same issuer, same client: only the flow's own provider name tells the two apart.
      callback.pathname = callback.pathname.replace('/oauth/idp/', '/oauth/idp-form/')
      const exchanges = idp!.tokenRequests
      const answer = await browser.request(callback.href)
      assert.equal(answer.status, 400)
      // Refused before the code goes anywhere: no token request reached the provider.
      assert.equal(idp!.tokenRequests, exchanges)
      assert.equal(problemCode(answer.body), 'ERR_OAUTH_CALLBACK')
      assert.equal((await me(browser)).status, 401)
      assert.equal(await app.users.getUserBy({ email: 'uma@example.com' }), null)
      // The control: the same login at its own provider's callback does exchange its code.
      assert.equal((await signIn(new Browser(), 'uma')).status, 303)
      assert.equal(idp!.tokenRequests, exchanges + 1)
    })

    it('a wrong PKCE verifier or nonce is refused, even with the right state', async () => {
      ACCOUNTS.pat = { email: 'pat@example.com', email_verified: true }
      const sealer = new FlowSealer(SECRET)
      for (const field of ['verifier', 'nonce'] as const) {
        const browser = new Browser()
        const callback = await toCallback(browser, `${base}/oauth/idp/authorize`, 'pat')
        const flow = sealer.open(browser.jar.get(FLOW_COOKIE)!.value)!
        assert.ok(flow)
        // The cookie is sealed: the test forges one with the server's key to isolate the check.
        const forged = { ...flow, [field]: field === 'verifier' ? 'x'.repeat(43) : 'forged-nonce' }
        browser.jar.set(FLOW_COOKIE, { value: sealer.seal(forged), path: '/oauth/' })
        const answer = await browser.request(callback)
        assert.equal(answer.status, 400, `${field}: ${answer.body}`)
        assert.equal(problemCode(answer.body), 'ERR_OAUTH_CALLBACK')
      }
      assert.equal(await app.users.getUserBy({ email: 'pat@example.com' }), null)
    })

    it('an unverified provider email never takes over an existing account', async () => {
      const bob = await app.users.addUser({ email: 'bob@example.com', password: PASSWORD }, { verify: true })
      ACCOUNTS.mallory = { email: 'bob@example.com', email_verified: false }
      const browser = new Browser()
      const answer = await signIn(browser, 'mallory')
      assert.equal(answer.status, 409)
      assert.equal(problemCode(answer.body), 'ERR_OAUTH_LINK_REQUIRED')
      assert.equal((await me(browser)).status, 401)
      assert.deepEqual(await app.users.oauth.list(bob.id), [])
    })

    it('a verified provider email and an unverified account: log in first', async () => {
      const dan = await app.users.addUser({ email: 'dan@example.com', password: PASSWORD }, { verify: false })
      ACCOUNTS.dan = { email: 'dan@example.com', email_verified: true }
      const answer = await signIn(new Browser(), 'dan')
      assert.equal(answer.status, 409)
      assert.equal(problemCode(answer.body), 'ERR_OAUTH_LINK_REQUIRED')
      assert.deepEqual(await app.users.oauth.list(dan.id), [])
    })

    it('both verified: linked automatically to the existing account', async () => {
      const kim = await app.users.addUser({ email: 'kim@example.com', password: PASSWORD }, { verify: true })
      ACCOUNTS.kim = { email: 'Kim@Example.com', email_verified: true }
      const browser = new Browser()
      assert.equal((await signIn(browser, 'kim')).status, 303)
      assert.equal((await me(browser)).body.id, kim.id)
      assert.equal((await app.users.oauth.list(kim.id)).length, 1)
    })

    it('link from a logged-in account, then unlink (the password remains)', async () => {
      const lea = await app.users.addUser({ email: 'lea@example.com', password: PASSWORD }, { verify: true })
      ACCOUNTS['lea-at-idp'] = { email: 'lea.other@example.com', email_verified: false }
      const browser = new Browser()
      const login = await browser.request(`${base}/login`, {
        json: { email: 'lea@example.com', password: PASSWORD },
      })
      assert.equal(login.status, 200, login.body)
      const bad = await browser.request(`${base}/users/me/oauth/idp/link?redirectTo=https://evil.example`, {
        method: 'POST',
      })
      assert.equal(bad.status, 400)
      const callback = await toCallback(
        browser,
        `${base}/users/me/oauth/idp/link?redirectTo=%2Fsettings`,
        'lea-at-idp',
        'POST',
      )
      const done = await browser.request(callback)
      assert.equal(done.status, 303, done.body)
      assert.equal(done.location, `${base}/settings`)
      assert.deepEqual(
        (await linked(browser)).map((a) => a.subject),
        ['lea-at-idp'],
      )
      // The identity now logs in to Lea's account, though its email differs and is unverified.
      const other = new Browser()
      await signIn(other, 'lea-at-idp')
      assert.equal((await me(other)).body.id, lea.id)
      const unlink = await browser.request(`${base}/users/me/oauth/idp`, { method: 'DELETE' })
      assert.equal(unlink.status, 204)
      assert.deepEqual(await linked(browser), [])
    })

    it('the CLI lists the providers linked to each user', async () => {
      let out = ''
      const io = {
        stdin: Readable.from([]),
        stdout: { write: (chunk: string) => (out += chunk) },
        stderr: { write: (chunk: string) => (out += chunk) },
      }
      const code = await runCli(
        ['node', 'fastify-users', 'list-users', '--json', '--database-url', database.url],
        io,
      )
      assert.equal(code, 0, out)
      const items = (JSON.parse(out) as { items: Array<{ email: string; linkedAccounts: unknown[] }> }).items
      assert.deepEqual(items.find((u) => u.email === 'ada@example.com')?.linkedAccounts, [
        { provider: 'idp', subject: 'ada', email: 'ada@example.com' },
      ])
      assert.deepEqual(items.find((u) => u.email === 'dan@example.com')?.linkedAccounts, [])
    })

    it('a link started without a login, or a redirect target outside the allow-list, is refused', async () => {
      const anonymous = await new Browser().request(`${base}/users/me/oauth/idp/link`, { method: 'POST' })
      assert.equal(anonymous.status, 401)
      const outside = await new Browser().request(
        `${base}/oauth/idp/authorize?redirectTo=https%3A%2F%2Fevil.example`,
      )
      assert.equal(outside.status, 400)
      assert.equal(problemCode(outside.body), 'ERR_VALIDATION')
      const unknown = await new Browser().request(`${base}/oauth/nope/authorize`)
      assert.equal(unknown.status, 404)
    })
  })
}
