/**
 * No token, session secret, JWT or password reaches the log at any level (the defect: with
 * `Fastify({ logger: true })`, `GET /reset-password?token=`, `GET /verify?token=` and `POST /verify?token=`
 * were logged with a live token, and a token copied from the log reset the password).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import { fastifyUsers, fastifyUsersLogSerializers, REDACTED, redactUrl } from '../../src/fastify/index.js'
import { testDialects } from '../helpers/databases.js'
import {
  backends,
  buildApp,
  cookieOf,
  json,
  PASSWORD,
  SECRET,
  type TestApp,
  tokenFromMail,
  uniqueEmail,
} from './build-app.js'

describe('redactUrl', () => {
  it('replaces the values of secret query parameters and keeps the rest as it was', () => {
    assert.equal(redactUrl('/verify?token=abc'), `/verify?token=${REDACTED}`)
    assert.equal(redactUrl('/x?a=1&token=abc&b=%41'), `/x?a=1&token=${REDACTED}&b=%41`)
    assert.equal(redactUrl('/x?TOKEN=abc'), `/x?TOKEN=${REDACTED}`)
    assert.equal(redactUrl('/x?tok%65n=abc'), `/x?tok%65n=${REDACTED}`)
    assert.equal(redactUrl('/x?token[]=abc;password=p'), `/x?token[]=${REDACTED};password=${REDACTED}`)
    assert.equal(
      redactUrl('/x?access_token=a&refresh_token=b'),
      `/x?access_token=${REDACTED}&refresh_token=${REDACTED}`,
    )
    assert.equal(redactUrl('/x?token=a&token=b'), `/x?token=${REDACTED}&token=${REDACTED}`)
    assert.equal(redactUrl('/x#token=abc'), `/x#${REDACTED}`)
    assert.equal(redactUrl('/x?%zz=1&token=a'), `/x?%zz=1&token=${REDACTED}`)
    assert.equal(redactUrl('/users?email=a@example.com'), '/users?email=a@example.com')
    assert.equal(redactUrl('/plain'), '/plain')
  })

  it('fastifyUsersLogSerializers.req logs the usual fields with the URL redacted', () => {
    const out = fastifyUsersLogSerializers.req({
      method: 'GET',
      url: '/verify?token=abc',
      headers: {},
      host: 'x',
      ip: '127.0.0.1',
    } as never) as Record<string, unknown>
    assert.equal(out.url, `/verify?token=${REDACTED}`)
    assert.equal(out.method, 'GET')
    assert.equal(out.remoteAddress, '127.0.0.1')
  })
})

for (const { name: dialect, skip } of testDialects) {
  for (const backend of backends) {
    describe(`no secret in the log at trace level, ${backend} backend on ${dialect}`, { skip }, () => {
      let t: TestApp
      const lines: string[] = []
      before(async () => {
        t = await buildApp({
          backend,
          dialect,
          fastify: { logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } } },
        })
      })
      after(async () => {
        await t?.destroy()
      })

      it('a whole journey logs no token, session secret, JWT or password', async () => {
        const secrets: string[] = [PASSWORD]
        const email = uniqueEmail('log')
        const newPassword = 'a brand new passphrase 42'
        secrets.push(newPassword)

        const reg = await t.request({
          method: 'POST',
          url: '/register',
          payload: { email, password: PASSWORD },
        })
        assert.ok(reg.statusCode < 300, reg.body)
        const mails = await t.mailsTo(email)
        const verifyToken = tokenFromMail(mails.at(-1)!)
        secrets.push(verifyToken)
        // The link as an old mail or a hand-made request carries it: in the query.
        await t.request({ method: 'GET', url: `/verify?token=${encodeURIComponent(verifyToken)}` })
        const verified = await t.request({
          method: 'POST',
          url: `/verify?token=${encodeURIComponent(verifyToken)}`,
          payload: { password: PASSWORD },
        })
        assert.equal(verified.statusCode, 200, verified.body)
        // A second redemption fails and is logged as an error answer: still no token.
        await t.request({
          method: 'POST',
          url: '/verify',
          payload: { token: verifyToken, password: PASSWORD },
        })

        await t.request({ method: 'POST', url: '/login', payload: { email, password: 'not the password' } })
        await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
        const resetToken = await t.tokenFor(email, /reset/i)
        secrets.push(resetToken)
        await t.request({ method: 'GET', url: `/reset-password?token=${encodeURIComponent(resetToken)}` })
        const reset = await t.request({
          method: 'POST',
          url: `/reset-password?token=${encodeURIComponent(resetToken)}`,
          payload: { token: resetToken, password: newPassword },
        })
        assert.ok(reset.statusCode === 204 || reset.statusCode === 400, reset.body)
        if (reset.statusCode === 400) {
          // The route takes the token from the body only; redeem it the normal way.
          const again = await t.request({
            method: 'POST',
            url: '/reset-password',
            payload: { token: resetToken, password: newPassword },
          })
          assert.equal(again.statusCode, 204, again.body)
        }

        const login = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: newPassword },
        })
        assert.equal(login.statusCode, 200, login.body)
        let headers: Record<string, string>
        if (t.cookieName) {
          const value = cookieOf(login, t.cookieName)!.value
          secrets.push(value)
          headers = { cookie: `${t.cookieName}=${value}` }
        } else {
          const token = json<{ accessToken: string }>(login).accessToken
          secrets.push(token)
          headers = { authorization: `Bearer ${token}` }
        }
        const me = await t.request({ method: 'GET', url: '/users/me', headers })
        assert.equal(me.statusCode, 200)
        await t.request({
          method: 'GET',
          url: `/users/me?token=${encodeURIComponent(secrets.at(-1)!)}`,
          headers,
        })
        const out = await t.request({ method: 'POST', url: '/logout', headers })
        assert.ok(out.statusCode < 300, out.body)
        await t.app.users.settled()

        const log = lines.join('')
        assert.ok(log.includes('incoming request'), 'the log was captured')
        assert.ok(log.includes(REDACTED), 'query secrets were redacted, not dropped silently')
        for (const secret of secrets) {
          // The whole secret, and each long part of it (a JWT's payload or signature alone).
          const parts = [secret, ...secret.split('.').filter((p) => p.length >= 16)]
          for (const part of parts) {
            const at = log.indexOf(part)
            assert.ok(at === -1, `the log holds a secret: ${log.slice(Math.max(0, at - 300), at + 80)}`)
            assert.ok(!log.includes(encodeURIComponent(part)), `the log holds an encoded secret`)
          }
        }
      })
    })
  }
}

async function withPlugin(app: FastifyInstance): Promise<void> {
  await app.register(fastifyUsers, {
    secret: SECRET,
    database: { connection: 'sqlite::memory:', migrate: true },
    authBackend: 'session',
    cookie: { secure: false },
  })
}

const SECRET_URL = (path: string) => `${path}?token=live-secret-value&lang=en`

describe("every request line of Fastify's pino logger is redacted", () => {
  it('routes before and after the plugin, 404s, and custom req serializers', async () => {
    const lines: Record<string, unknown>[] = []
    const app = Fastify({
      logger: {
        level: 'info',
        stream: { write: (line: string) => lines.push(JSON.parse(line)) },
        // The application's own req serializer: its extra field survives, its URL is redacted.
        serializers: { req: (r: FastifyRequest) => ({ url: r.url, app: 'own' }) },
      },
    })
    app.get('/before', async () => 'before')
    await withPlugin(app)
    app.get('/after', async () => 'after')
    app.get(
      '/own',
      { logSerializers: { req: (r: FastifyRequest) => ({ url: r.url, route: 'own' }) } },
      async () => 'own',
    )
    await app.ready()
    for (const path of ['/before', '/after', '/own', '/nowhere', '/users/me']) {
      await app.inject({ method: 'GET', url: SECRET_URL(path) })
    }
    await app.close()
    const requests = lines.filter((l) => l.msg === 'incoming request')
    assert.equal(requests.length, 5, JSON.stringify(lines))
    for (const line of requests) {
      const req = line.req as { url: string; app?: string; route?: string }
      assert.match(req.url, /\?token=\[REDACTED\]&lang=en$/, JSON.stringify(line))
    }
    const req = (i: number) => (requests[i]?.req ?? {}) as { app?: string; route?: string }
    assert.equal(req(0).app, 'own', 'the application serializer is kept')
    assert.equal(req(2).route, 'own', "a route's own serializer is kept")
    assert.ok(!JSON.stringify(lines).includes('live-secret-value'), 'no line holds the secret')
  })
})

describe('an application logger that is not pino', () => {
  it("the plugin's routes and the routes after it log redacted URLs (Fastify's child logger factory)", async () => {
    const lines: string[] = []
    type Serializer = (value: unknown) => unknown
    // A minimal logger of the application's own: it applies the serializers it is given, and logs a
    // request by its raw URL when it has none.
    const logger = (serializers: Record<string, Serializer>, bindings: object): FastifyBaseLogger => {
      const write =
        (level: string) =>
        (obj: unknown, msg?: string): void => {
          const fields: Record<string, unknown> = { ...bindings }
          if (obj && typeof obj === 'object') {
            for (const [key, value] of Object.entries(obj)) {
              const serialize = serializers[key]
              fields[key] = serialize
                ? serialize(value)
                : key === 'req'
                  ? { url: (value as FastifyRequest).url }
                  : key === 'res' || key === 'err'
                    ? '(omitted)'
                    : value
            }
          }
          lines.push(JSON.stringify({ level, ...fields, msg: typeof obj === 'string' ? obj : msg }))
        }
      return {
        level: 'info',
        info: write('info'),
        warn: write('warn'),
        error: write('error'),
        fatal: write('fatal'),
        debug: write('debug'),
        trace: write('trace'),
        silent: () => {},
        child: (more: object, options?: { serializers?: Record<string, Serializer> }) =>
          logger({ ...serializers, ...options?.serializers }, { ...bindings, ...more }),
      } as unknown as FastifyBaseLogger
    }
    const app = Fastify({ loggerInstance: logger({}, {}) })
    await withPlugin(app)
    app.get('/after', async () => 'after')
    await app.ready()
    for (const path of ['/after', '/users/me', '/users/me/sessions']) {
      await app.inject({ method: 'GET', url: SECRET_URL(path) })
    }
    await app.close()
    const requests = lines.filter((l) => l.includes('incoming request'))
    assert.equal(requests.length, 3, lines.join('\n'))
    assert.ok(!lines.join('\n').includes('live-secret-value'), lines.join('\n'))
  })
})
