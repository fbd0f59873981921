/**
 * Passkeys through a real browser: Debian's Chromium driven by playwright-core, with a CDP virtual
 * authenticator (an internal, resident-key, user-verifying one), against the plugin listening on a real
 * socket: on the plugin's own login page (a password login, a passkey alone, a passkey as the second step),
 * and on a small page served by the test that registers a passkey from a logged-in session, then logs out
 * and logs in with the passkey alone. Skips with a message when /usr/bin/chromium is absent; fails in CI.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isCI } from '../helpers/databases.js'
import { buildApp, PASSWORD, type TestApp } from './build-app.js'

const CHROMIUM = '/usr/bin/chromium'
const skip =
  !existsSync(CHROMIUM) && !isCI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false

const PAGE = `<!doctype html><meta charset="utf-8"><title>passkeys</title><script>
const post = async (url, body) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}) })
  return { status: res.status, body: await res.json().catch(() => null) }
}
window.registerPasskey = async (email, password) => {
  const login = await post('/login', { email, password })
  if (login.status !== 200) return 'login ' + login.status
  const options = await post('/users/me/passkeys/options')
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) })
  const created = await post('/users/me/passkeys', { credential: credential.toJSON(), name: 'Browser' })
  await post('/logout')
  return created.status
}
window.loginWithPasskey = async () => {
  const options = await post('/login/passkey/options')
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body) })
  const login = await post('/login/passkey', credential.toJSON())
  const me = await fetch('/users/me')
  return { login: login.status, me: me.status, email: (await me.json()).email }
}
</script>`

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

describe('passkeys in Chromium with a virtual authenticator', { skip }, () => {
  let t: TestApp
  let origin: string
  // biome-ignore lint/suspicious/noExplicitAny: playwright-core is loaded lazily, only when Chromium exists.
  let browser: any

  before(async () => {
    const port = await freePort()
    origin = `http://localhost:${port}`
    t = await buildApp({
      backend: 'session',
      rateLimit: false,
      cookie: { secure: false },
      passkeys: { rpId: 'localhost', rpName: 'fastify-users test', origins: [origin] },
      routes: { twoFactor: {} },
      pages: { login: true },
      appRoutes: (app) => {
        app.get('/passkey-page', async (_request, reply) => reply.type('text/html').send(PAGE))
      },
    })
    await t.app.listen({ port, host: '127.0.0.1' })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
  })
  after(async () => {
    await browser?.close()
    await t?.destroy()
  })

  /** A browser context whose page has a virtual authenticator (internal, resident keys, verifying). */
  const pageWithAuthenticator = async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    })
    return { context, page }
  }
  const loggedIn = async (page: {
    waitForSelector: (s: string) => Promise<unknown>
    evaluate: (s: string) => Promise<unknown>
  }) => {
    await page.waitForSelector('output:has-text("You are logged in.")')
    return page.evaluate(`fetch('/users/me').then((r) => r.status)`)
  }
  const logOut = (page: { evaluate: (s: string) => Promise<unknown> }) =>
    page.evaluate(
      `fetch('/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status)`,
    )

  it("on the plugin's login page: a password login, then a passkey alone, then a passkey as the second step", async () => {
    const { email } = await t.createUser()
    const { context, page } = await pageWithAuthenticator()
    const passwordStep = async () => {
      await page.goto(`${origin}/login`)
      await page.fill('input[name=identifier]', email)
      await page.fill('input[name=password]', PASSWORD)
      await page.click('button[type=submit]:has-text("Log in")')
    }
    // No factor yet: the password alone logs in; the passkey is registered from that session, on the
    // login page's own origin (the API an account page would call).
    await passwordStep()
    assert.equal(await loggedIn(page), 200)
    const created = await page.evaluate(`(async () => {
      const post = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) })
      const options = await (await post('/users/me/passkeys/options')).json()
      const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
      return (await post('/users/me/passkeys', { credential: credential.toJSON(), name: 'Browser' })).status
    })()`)
    assert.equal(created, 201)
    assert.ok([200, 204].includes(Number(await logOut(page))))

    await page.goto(`${origin}/login`)
    await page.click('text=Log in with a passkey')
    assert.equal(await loggedIn(page), 200, 'the passkey alone')
    assert.ok([200, 204].includes(Number(await logOut(page))))

    // Now the account has a passkey: the password is followed by the second step, answered by it.
    await passwordStep()
    await page.click('text=Use a passkey')
    assert.equal(await loggedIn(page), 200, 'the passkey as the second step')
    await context.close()
  })

  it('registers a passkey from a session, then logs in with it alone', async () => {
    const { email } = await t.createUser()
    const { context, page } = await pageWithAuthenticator()
    await page.goto(`${origin}/passkey-page`)
    const registered = await page.evaluate(
      `registerPasskey(${JSON.stringify(email)}, ${JSON.stringify(PASSWORD)})`,
    )
    assert.equal(registered, 201)
    const result = await page.evaluate('loginWithPasskey()')
    assert.deepEqual(result, { login: 200, me: 200, email })
    await context.close()
  })
})
