/**
 * The plugin's pages (`pages` option): mails go over real SMTP to a local sink; the test opens each mailed
 * link's page as a browser would (the fragment stays in the browser), checks its headers, loads its
 * script, and makes the POST the script makes, to the address the page names, on every backend.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Script } from 'node:vm'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import Fastify, {
  type FastifyInstance,
  type FastifyServerOptions,
  type LightMyRequestResponse,
} from 'fastify'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import { type FastifyUsersOptions, fastifyUsers } from '../../src/fastify/index.js'
import { relativeReference, resolvePages } from '../../src/fastify/pages.js'
import { SmtpMailer, tokenFromLink } from '../../src/mail/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../mail/smtp-sink.js'

const SECRET = 'pages-test-secret-0123456789-abcdefghijklmnopq'
const BASE_URL = 'https://app.example.com'
const PASSWORD = 'correct horse battery staple'
// What a browser sends with the page's own fetch.
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', origin: BASE_URL }

interface Harness {
  app: FastifyInstance
  sink: SmtpSink
  close(): Promise<void>
}

async function start(
  options: Partial<FastifyUsersOptions>,
  wrap?: { prefix: string },
  fastifyOptions: FastifyServerOptions = {},
): Promise<Harness> {
  const sink = await startSmtpSink()
  const tdb: TestDatabase<unknown> = await createTestDatabase('sqlite')
  const app = Fastify(fastifyOptions)
  const pluginOptions: FastifyUsersOptions = {
    secret: SECRET,
    database: tdb.db,
    migrate: true,
    mailer: SmtpMailer.fromUrl(sink.url, 'no-reply@example.com'),
    baseUrl: BASE_URL,
    openapi: false,
    rateLimit: false,
    ...options,
  }
  if (wrap) {
    await app.register(
      (scope, _opts, done) => {
        scope.register(fastifyUsers, pluginOptions)
        done()
      },
      { prefix: wrap.prefix },
    )
  } else {
    await app.register(fastifyUsers, pluginOptions)
  }
  await app.ready()
  return {
    app,
    sink,
    async close() {
      await app.close()
      await tdb.destroy()
      await sink.close()
    },
  }
}

interface OpenedPage {
  page: LightMyRequestResponse
  /** Absolute URL the page's form posts to. */
  api: string
  /** Absolute URL of the page's script. */
  script: string
  token: string
}

/** Opens a mailed link as a browser does: the request carries the path, never the fragment. */
async function openLink(app: FastifyInstance, mail: ReceivedMail, path: string): Promise<OpenedPage> {
  assert.ok(mail.link, `the mail '${mail.subject}' has a link`)
  const link = new URL(mail.link)
  assert.equal(link.origin, BASE_URL)
  assert.equal(link.pathname, path)
  assert.equal(link.search, '', 'the token is not in the query')
  const token = tokenFromLink(mail.link)
  assert.ok(token, 'the token is in the fragment')
  const page = await app.inject({ method: 'GET', url: link.pathname })
  assert.equal(page.statusCode, 200, page.body)
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  assert.ok(!page.body.includes(token), 'the page never holds the token')
  const api = /<form data-api="([^"]+)"/.exec(page.body)?.[1]
  const script = /<script src="([^"]+)"/.exec(page.body)?.[1]
  assert.ok(api && script, 'the page names its API route and its script')
  return { page, api: new URL(api, link).toString(), script: new URL(script, link).toString(), token }
}

/** The POST the page's script makes. */
function post(app: FastifyInstance, url: string, body: Record<string, string>) {
  return app.inject({ method: 'POST', url: new URL(url).pathname, headers: SAME_ORIGIN, payload: body })
}

function assertPageHeaders(res: LightMyRequestResponse): void {
  const csp = String(res.headers['content-security-policy'])
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.match(csp, /form-action 'none'/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers['referrer-policy'], 'no-referrer')
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.ok(res.headers['x-frame-options'], 'no framing, for old browsers too')
}

for (const backend of ['session', 'jwt', 'jwt-cookie'] as const satisfies readonly AuthBackendName[]) {
  describe(`pages served by the plugin, ${backend} backend`, () => {
    let h: Harness
    let n = 0
    const address = (tag: string) => `${tag}.${backend}.${++n}@example.com`

    before(async () => {
      h = await start({ authBackend: backend, pages: true, appName: 'Pages <Test>' })
    })
    after(async () => {
      await h?.close()
    })

    it('register, mailed link, page, its script, the POST it makes: verified, then the login works', async () => {
      const email = address('ada')
      const registered = await h.app.inject({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 202)
      const opened = await openLink(
        h.app,
        await h.sink.nextMail({ to: email, subject: /verify/i }),
        '/verify',
      )
      assertPageHeaders(opened.page)
      assert.match(opened.page.body, /<title>Verify your email address · Pages &lt;Test&gt;<\/title>/)
      assert.match(opened.page.body, /<noscript>.*JavaScript/s, 'a message without JavaScript')
      assert.match(opened.page.body, /<form [^>]*hidden>/, 'no form to submit without the script')
      assert.match(opened.page.body, /name="password"/)

      const script = await h.app.inject({ method: 'GET', url: new URL(opened.script).pathname })
      assert.equal(script.statusCode, 200)
      assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
      assert.match(script.body, /location\.hash/)
      assert.doesNotThrow(() => new Script(script.body), 'the script parses')
      assert.match(script.body, /'content-type': 'application\/json'/)

      const style = /<style>([^<]*)<\/style>/.exec(opened.page.body)?.[1] ?? ''
      const { createHash } = await import('node:crypto')
      const hash = createHash('sha256').update(style).digest('base64')
      assert.ok(
        String(opened.page.headers['content-security-policy']).includes(`'sha256-${hash}'`),
        'the inline style is allowed by its hash only',
      )

      assert.equal(opened.api, `${BASE_URL}/verify`)
      const wrong = await post(h.app, opened.api, { token: opened.token, password: 'not the password' })
      assert.equal(wrong.statusCode, 400)
      assert.equal(wrong.json().code, 'ERR_PASSWORD_REQUIRED')
      assert.ok(wrong.json().detail, 'the page shows the problem detail')
      const verified = await post(h.app, opened.api, { token: opened.token, password: PASSWORD })
      assert.equal(verified.statusCode, 200, verified.body)
      assert.equal(verified.json().isVerified, true)
      const login = await h.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200)
    })

    it('password reset through its page', async () => {
      const email = address('grace')
      await h.app.users.addUser({ email, password: PASSWORD }, { verify: true })
      await h.app.inject({ method: 'POST', url: '/forgot-password', payload: { email } })
      const opened = await openLink(
        h.app,
        await h.sink.nextMail({ to: email, subject: /reset/i }),
        '/reset-password',
      )
      assertPageHeaders(opened.page)
      assert.match(opened.page.body, /name="repeat"/, 'the new password is asked twice')
      assert.equal(opened.api, `${BASE_URL}/reset-password`)
      const reset = await post(h.app, opened.api, { token: opened.token, password: 'a new password 123' })
      assert.equal(reset.statusCode, 204, reset.body)
      const login = await h.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: 'a new password 123' },
      })
      assert.equal(login.statusCode, 200)
    })

    it('email change: the confirm page completes it; the cancel page of another change drops it', async () => {
      const old = address('old')
      const fresh = address('new')
      await h.app.users.addUser({ email: old, password: PASSWORD }, { verify: true })
      const credential = async (email: string): Promise<Record<string, string>> => {
        const res = await h.app.inject({
          method: 'POST',
          url: '/login',
          payload: { email, password: PASSWORD },
        })
        assert.equal(res.statusCode, 200)
        const cookie = res.cookies[0]
        if (cookie) return { cookie: `${cookie.name}=${cookie.value}` }
        return { authorization: `Bearer ${(res.json() as { accessToken: string }).accessToken}` }
      }
      const change = async (from: string, to: string) => {
        const res = await h.app.inject({
          method: 'PATCH',
          url: '/users/me',
          payload: { email: to, currentPassword: PASSWORD },
          headers: { ...(await credential(from)), ...SAME_ORIGIN },
        })
        assert.equal(res.statusCode, 200, res.body)
      }
      await change(old, fresh)
      const confirm = await openLink(
        h.app,
        await h.sink.nextMail({ to: fresh, subject: /confirm your new email/i }),
        '/confirm-email',
      )
      assertPageHeaders(confirm.page)
      assert.equal(confirm.api, `${BASE_URL}/users/me/email/confirm`)
      const confirmed = await post(h.app, confirm.api, { token: confirm.token, password: PASSWORD })
      assert.equal(confirmed.statusCode, 204, confirmed.body)

      const other = address('other')
      await change(fresh, other)
      const cancel = await openLink(
        h.app,
        await h.sink.nextMail({ to: fresh, subject: /about to change/i }),
        '/cancel-email',
      )
      assertPageHeaders(cancel.page)
      assert.doesNotMatch(cancel.page.body, /name="password"/, 'cancelling needs no password')
      assert.equal(cancel.api, `${BASE_URL}/users/me/email/cancel`)
      const cancelled = await post(h.app, cancel.api, { token: cancel.token })
      assert.equal(cancelled.statusCode, 204, cancelled.body)
      const me = await h.app.users.getUserBy({ email: fresh })
      assert.equal(me?.pendingEmail ?? null, null)
    })

    it('the API the pages post to keeps its checks: a cross-site post and a form post are refused', async () => {
      const email = address('csrf')
      await h.app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
      const { api, token } = await openLink(
        h.app,
        await h.sink.nextMail({ to: email, subject: /verify/i }),
        '/verify',
      )
      const form = await h.app.inject({
        method: 'POST',
        url: new URL(api).pathname,
        headers: { ...SAME_ORIGIN, 'content-type': 'text/plain' },
        payload: JSON.stringify({ token, password: PASSWORD }),
      })
      assert.equal(form.statusCode, 415)
      if (backend !== 'jwt') {
        const crossSite = await h.app.inject({
          method: 'POST',
          url: new URL(api).pathname,
          headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
          payload: { token, password: PASSWORD },
        })
        assert.equal(crossSite.statusCode, 403)
      }
      const unverified = await h.app.users.getUserBy({ email })
      assert.equal(unverified?.isVerified, false, 'nothing changed')
    })
  })
}

describe('pages: paths and prefixes', () => {
  it('are off by default: the links keep their paths and GET /verify is not a page', async () => {
    const h = await start({})
    try {
      await h.app.inject({
        method: 'POST',
        url: '/register',
        payload: { email: 'off@example.com', password: PASSWORD },
      })
      const mail = await h.sink.nextMail({ to: 'off@example.com' })
      assert.equal(new URL(mail.link ?? '').pathname, '/verify')
      const res = await h.app.inject({ method: 'GET', url: '/verify' })
      assert.notEqual(res.statusCode, 200)
      assert.equal((await h.app.inject({ method: 'GET', url: '/fastify-users-pages.js' })).statusCode, 404)
    } finally {
      await h.close()
    }
  })

  it('under a registration prefix, the mailed link and the page carry it, and the page posts under it', async () => {
    const h = await start({ pages: true }, { prefix: '/auth' })
    try {
      const email = 'prefixed@example.com'
      await h.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })
      const opened = await openLink(h.app, await h.sink.nextMail({ to: email }), '/auth/verify')
      assertPageHeaders(opened.page)
      assert.equal(opened.api, `${BASE_URL}/auth/verify`)
      assert.equal(opened.script, `${BASE_URL}/auth/fastify-users-pages.js`)
      assert.equal(
        (await h.app.inject({ method: 'GET', url: '/auth/fastify-users-pages.js' })).statusCode,
        200,
      )
      const verified = await post(h.app, opened.api, { token: opened.token, password: PASSWORD })
      assert.equal(verified.statusCode, 200, verified.body)
    } finally {
      await h.close()
    }
  })

  it('moved pages move the links; linkPaths still win; a page whose routes are off is not served', async () => {
    const h = await start({
      pages: { paths: { verify: '/account/verify-email' }, scriptPath: '/assets/users.js' },
      linkPaths: { reset: '/my-front-end/reset' },
      routes: { currentUser: false },
    })
    try {
      const email = 'moved@example.com'
      await h.app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
      const opened = await openLink(h.app, await h.sink.nextMail({ to: email }), '/account/verify-email')
      assert.equal(opened.api, `${BASE_URL}/verify`)
      assert.equal(opened.script, `${BASE_URL}/assets/users.js`)
      assert.equal((await h.app.inject({ method: 'GET', url: '/assets/users.js' })).statusCode, 200)
      const verified = await post(h.app, opened.api, { token: opened.token, password: PASSWORD })
      assert.equal(verified.statusCode, 200, verified.body)

      await h.app.inject({ method: 'POST', url: '/forgot-password', payload: { email } })
      const reset = await h.sink.nextMail({ to: email, subject: /reset/i })
      assert.equal(new URL(reset.link ?? '').pathname, '/my-front-end/reset')
      assert.equal((await h.app.inject({ method: 'GET', url: '/reset-password' })).statusCode, 200)
      assert.notEqual((await h.app.inject({ method: 'GET', url: '/confirm-email' })).statusCode, 200)
    } finally {
      await h.close()
    }
  })

  it('an old link with the token in the query opens the page, and the log never holds the token', async () => {
    const lines: string[] = []
    const h = await start({ pages: true }, undefined, {
      logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
    })
    try {
      const token = 'eyJhbGciOiJIUzI1NiJ9.page-log-probe.signature'
      const res = await h.app.inject({ method: 'GET', url: `/verify?token=${token}` })
      assert.equal(res.statusCode, 200)
      assert.ok(lines.length > 0, 'the request was logged')
      assert.ok(!lines.join('\n').includes('page-log-probe'), 'no token in the log')
    } finally {
      await h.close()
    }
  })

  it('stay out of the OpenAPI document', async () => {
    const h = await start({ pages: true, openapi: true })
    try {
      const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, unknown>>
      }
      assert.ok(doc.paths['/verify']?.post, 'the API route is documented')
      assert.equal(doc.paths['/verify']?.get, undefined)
      for (const path of ['/confirm-email', '/cancel-email', '/fastify-users-pages.js']) {
        assert.equal(doc.paths[path], undefined, path)
      }
      assert.equal(doc.paths['/reset-password']?.get, undefined)
    } finally {
      await h.close()
    }
  })

  it('refuses malformed page options at registration, naming the option', () => {
    assert.throws(() => resolvePages({ paths: { verify: 'verify' } }), /pages\.paths\.verify/)
    assert.throws(() => resolvePages({ paths: { verify: '/users/:id' } }), /pages\.paths\.verify/)
    assert.throws(() => resolvePages({ paths: { verify: '/v#x' } }), /pages\.paths\.verify/)
    assert.throws(() => resolvePages({ paths: { verify: '/a/../verify' } }), /pages\.paths\.verify/)
    assert.throws(() => resolvePages({ scriptPath: 'x.js' }), /pages\.scriptPath/)
    assert.throws(
      () => resolvePages({ paths: { verify: '/same', reset: '/same' } }),
      /two things at '\/same'/,
    )
    assert.throws(() => resolvePages({ paths: { nope: '/x' } as never }), /pages\.paths\.nope/)
    assert.throws(() => resolvePages('yes' as never), /option `pages`/)
    assert.equal(resolvePages(false), null)
    assert.equal(resolvePages(undefined), null)
  })

  it('links from a page stay relative, so a proxy path in front of the app keeps working', () => {
    assert.equal(relativeReference('/verify', '/verify'), './verify')
    assert.equal(
      relativeReference('/auth/verify', '/auth/users/me/email/confirm'),
      '../auth/users/me/email/confirm',
    )
    assert.equal(
      new URL(relativeReference('/auth/verify', '/auth/verify'), 'https://x.example/app/auth/verify')
        .pathname,
      '/app/auth/verify',
    )
  })
})

describe('the login page, with its second step', () => {
  const totpCode = (secret: string) =>
    generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(Date.now() / 30_000)), 6)
  const passkeys = { rpId: 'app.example.com', rpName: 'Example', origins: [BASE_URL] }

  it('is served with its script; the POSTs the script makes log in with the password, then the code', async () => {
    const h = await start({
      authBackend: 'session',
      pages: { login: true },
      routes: { twoFactor: {} },
      passkeys,
    })
    try {
      const pageUrl = `${BASE_URL}/login`
      const page = await h.app.inject({ method: 'GET', url: '/login' })
      assert.equal(page.statusCode, 200, page.body)
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
      assertPageHeaders(page)
      assert.match(page.body, /<form data-login="\.\/login" data-identifier="email"[^>]* hidden>/)
      assert.match(page.body, /<form data-second hidden>/, 'the second step waits for a 202')
      assert.match(page.body, /name="code"/)
      assert.match(page.body, /data-recovery>Use a recovery code</)
      assert.match(page.body, /data-passkey hidden>Use a passkey</)
      // With passkeys on, a passkey alone logs in too: the button names the passkey login route.
      assert.match(page.body, /data-passkey-login="\.\/login\/passkey" hidden>Log in with a passkey</)
      const scriptRef = /<script src="([^"]+)"/.exec(page.body)?.[1] ?? ''
      const script = await h.app.inject({ method: 'GET', url: new URL(scriptRef, pageUrl).pathname })
      assert.equal(script.statusCode, 200)
      assert.doesNotThrow(() => new Script(script.body), 'the script parses')
      assert.match(script.body, /form\[data-login\]/)
      assert.match(script.body, /result\.status === 202/)
      assert.match(script.body, /api \+ '\/2fa'/)
      assert.match(script.body, /recoveryCode: value/)
      assert.match(script.body, /api \+ '\/2fa\/passkey\/options'/)
      assert.match(script.body, /parseRequestOptionsFromJSON/)
      assert.match(script.body, /passkey: credential\.toJSON\(\)/)

      // What the script posts, to the addresses it derives from the page.
      const api = new URL(/data-login="([^"]+)"/.exec(page.body)?.[1] ?? '', pageUrl).toString()
      assert.equal(api, `${BASE_URL}/login`)
      const email = 'page-login@example.com'
      await h.app.users.addUser({ email, password: PASSWORD } as never, { verify: true, activate: true })
      const first = await post(h.app, api, { email, password: PASSWORD })
      assert.equal(first.statusCode, 200, first.body)
      const cookie = { cookie: `__Host-fastify-users-session=${first.cookies[0]!.value}` }
      const enrol = await h.app.inject({
        method: 'POST',
        url: '/users/me/2fa/totp',
        headers: { ...SAME_ORIGIN, ...cookie },
      })
      const { secret } = enrol.json() as { secret: string }
      const confirm = await h.app.inject({
        method: 'POST',
        url: '/users/me/2fa/totp/confirm',
        headers: { ...SAME_ORIGIN, ...cookie },
        payload: { code: totpCode(secret) },
      })
      assert.equal(confirm.statusCode, 200, confirm.body)
      const { recoveryCodes } = confirm.json() as { recoveryCodes: string[] }

      const step = await post(h.app, api, { email, password: PASSWORD })
      assert.equal(step.statusCode, 202, step.body)
      const { challenge, methods } = step.json() as { challenge: string; methods: string[] }
      assert.deepEqual(methods, ['totp', 'recovery'])
      assert.equal(step.cookies.length, 0)
      const options = await post(h.app, `${api}/2fa/passkey/options`, { challenge })
      assert.equal(
        options.json().code,
        'ERR_NOT_FOUND',
        'the options route is there; this user has no passkey',
      )
      const wrong = await post(h.app, `${api}/2fa`, { challenge, recoveryCode: 'aaaaa-bbbbb' })
      assert.equal(wrong.statusCode, 401)
      assert.ok(wrong.json().detail, 'the page shows the problem detail')
      const done = await post(h.app, `${api}/2fa`, { challenge, recoveryCode: recoveryCodes[0]! })
      assert.equal(done.statusCode, 200, done.body)
      assert.ok(done.cookies.some((c) => c.name === '__Host-fastify-users-session'))
    } finally {
      await h.close()
    }
  })

  it('is off by default, moves with its option, and needs a cookie backend first', async () => {
    const off = await start({ pages: true })
    try {
      assert.equal((await off.app.inject({ method: 'GET', url: '/login' })).statusCode, 405, 'POST only')
    } finally {
      await off.close()
    }
    assert.deepEqual(resolvePages({ login: { path: '/sign-in', next: '/home' } })?.login, {
      path: '/sign-in',
      next: '/home',
    })
    assert.throws(() => resolvePages({ login: { path: 'sign-in' } }), /pages\.login\.path/)
    assert.throws(() => resolvePages({ login: { next: 'https://evil.example' } }), /pages\.login\.next/)
    const tdb = await createTestDatabase('sqlite')
    const bearer = Fastify()
    try {
      await assert.rejects(
        (async () => {
          await bearer.register(fastifyUsers, {
            secret: SECRET,
            database: tdb.db,
            migrate: true,
            authBackend: 'jwt',
            pages: { login: true },
          })
          await bearer.ready()
        })(),
        /cookie backend first/,
      )
    } finally {
      await bearer.close().catch(() => {})
      await tdb.destroy()
    }
  })
})
