/**
 * One browser test: Chromium (playwright-core, the system's /usr/bin/chromium) clicks "Sign in with" on the
 * plugin's login page, logs in through the local OpenID Connect provider's own form and consent page, and lands back
 * on the application logged in. Skipped, saying why, when no Chromium is installed.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { type Browser, chromium, type Page } from 'playwright-core'
import { fastifyUsers } from '../../src/fastify/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { clientOf, freePort, startIdp, stopIdp, type TestIdp } from './test-idp.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SECRET = 'oauth-test-secret-0123456789-abcdefghijklmnopq'

describe('Chromium: "Sign in with" through the provider\'s login form', {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`,
}, () => {
  let database: TestDatabase<unknown>
  let idp: TestIdp | undefined
  let app: FastifyInstance
  let browser: Browser
  let base: string

  before(async () => {
    database = await createTestDatabase('sqlite')
    const appPort = await freePort()
    base = `http://127.0.0.1:${appPort}`
    idp = await startIdp(base, (id) => ({ email: `${id}@example.com`, email_verified: true }))
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: database.db as Kysely<unknown>,
      migrate: true,
      authBackend: 'session',
      requireVerificationOnRegistration: false,
      rateLimit: false,
      pages: { login: true },
      routes: { twoFactor: {} },
      oauth: {
        baseUrl: base,
        providers: {
          idp: { ...clientOf(idp), label: 'IdP <Local>' },
        },
        redirectAllowList: ['/', '/home'],
      },
    })
    app.get('/home', async (_request, reply) =>
      reply.type('text/html').send('<!doctype html><title>Home</title>'),
    )
    await app.listen({ port: appPort, host: '127.0.0.1' })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })
  after(async () => {
    await browser?.close()
    await app?.close()
    await stopIdp(idp)
    await database?.destroy()
  })

  it('clicks "Sign in with", logs in at the provider, and comes back logged in', async () => {
    const page = await browser.newPage()
    // The plugin's own login page, with the return target from the allow-list.
    await page.goto(`${base}/login?redirectTo=%2Fhome`)
    assert.match(await page.content(), /Sign in with IdP &lt;Local&gt;/)
    await page.click('text=Sign in with IdP <Local>')
    await page.waitForSelector('input[name="login"]')
    await page.fill('input[name="login"]', 'grace')
    await page.fill('input[name="password"]', 'anything')
    await page.click('button[type="submit"]')
    // The provider's consent page.
    await page.waitForSelector('button[type="submit"]')
    await Promise.all([page.waitForURL(`${base}/home`), page.click('button[type="submit"]')])
    const me = await page.evaluate(async () => {
      const response = await fetch('/users/me')
      return { status: response.status, body: (await response.json()) as { email: string } }
    })
    assert.equal(me.status, 200)
    assert.equal(me.body.email, 'grace@example.com')
    await page.close()
  })

  /** From the plugin's login page through the provider's login form and consent page, as `login`. */
  const signIn = async (page: Page, login: string) => {
    await page.goto(`${base}/login?redirectTo=%2Fhome`)
    await page.click('text=Sign in with IdP <Local>')
    await page.waitForSelector('input[name="login"]')
    await page.fill('input[name="login"]', login)
    await page.fill('input[name="password"]', 'anything')
    await page.click('button[type="submit"]')
    await page.waitForSelector('button[type="submit"]')
    await page.click('button[type="submit"]')
  }
  const status = (page: Page) => page.evaluate(() => fetch('/users/me').then((r) => r.status))

  it('an account with a second factor answers it on the login page after the provider', async () => {
    const first = await browser.newPage()
    await signIn(first, 'hedy')
    await first.waitForURL(`${base}/home`)
    const secret = await first.evaluate(async () => {
      const response = await fetch('/users/me/2fa/totp', { method: 'POST' })
      return ((await response.json()) as { secret: string }).secret
    })
    const code = generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(Date.now() / 30_000)), 6)
    const recoveryCodes = await first.evaluate(async (code) => {
      const response = await fetch('/users/me/2fa/totp/confirm', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code }),
      })
      return ((await response.json()) as { recoveryCodes: string[] }).recoveryCodes
    }, code)
    assert.equal(recoveryCodes.length, 10)
    await first.close()

    const page = await browser.newPage()
    await signIn(page, 'hedy')
    // Back on the login page: the second step shown, its challenge gone from the address bar, no session.
    await page.waitForSelector('form[data-second]:not([hidden])')
    assert.equal(new URL(page.url()).pathname, '/login')
    assert.equal(new URL(page.url()).hash, '')
    assert.equal(await status(page), 401)
    await page.click('text=Use a recovery code')
    await page.fill('input[name="code"]', recoveryCodes[0]!)
    await Promise.all([
      page.waitForURL(`${base}/home`),
      page.click('form[data-second] button[type="submit"]'),
    ])
    assert.equal(await status(page), 200)
    await page.close()
  })
})
