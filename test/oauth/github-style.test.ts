/**
 * A GitHub-style plain OAuth 2 provider (no ID token: a profile and an emails list), faked by a small
 * Fastify app on a real socket that checks PKCE like GitHub does. The primary verified email is the one
 * taken, never the profile's public (unverified) email. A Discord-style provider on the same fake reads
 * one profile with the email and its own `verified` flag.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { fastifyUsers } from '../../src/fastify/index.js'
import { BaseUserService } from '../../src/index.js'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { Browser } from './browser.js'
import { freePort } from './test-idp.js'

const SECRET = 'oauth-test-secret-0123456789-abcdefghijklmnopq'

interface Grant {
  challenge: string
  redirectUri: string
  user: string
}

describe('sign-in with a GitHub-style OAuth 2 provider', () => {
  let database: TestDatabase<unknown>
  let fake: FastifyInstance
  let app: FastifyInstance
  let base: string
  let fakeBase: string
  const grants = new Map<string, Grant>()
  const tokens = new Map<string, string>()
  /** Which fake user the next authorization logs in. */
  let nextUser = 'octo'
  const users: Record<string, { id: number; email: string | null; emails: Array<Record<string, unknown>> }> =
    {
      octo: {
        id: 583231,
        email: 'public@example.com',
        emails: [
          { email: 'public@example.com', primary: false, verified: false },
          { email: 'octo@example.com', primary: true, verified: true },
        ],
      },
    }

  before(async () => {
    database = await createTestDatabase('sqlite')
    fake = Fastify()
    fake.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    )
    fake.get('/login/oauth/authorize', async (request, reply) => {
      const q = request.query as Record<string, string>
      assert.equal(q.code_challenge_method, 'S256')
      const code = randomBytes(8).toString('hex')
      grants.set(code, { challenge: q.code_challenge!, redirectUri: q.redirect_uri!, user: nextUser })
      const back = new URL(q.redirect_uri!)
      back.searchParams.set('code', code)
      back.searchParams.set('state', q.state!)
      return reply.redirect(back.href)
    })
    fake.post('/login/oauth/access_token', async (request, reply) => {
      const body = request.body as Record<string, string>
      const grant = grants.get(body.code ?? '')
      grants.delete(body.code ?? '')
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url')
      if (!grant || grant.challenge !== challenge || grant.redirectUri !== body.redirect_uri) {
        return reply.code(400).send({ error: 'invalid_grant' })
      }
      const token = randomBytes(16).toString('hex')
      tokens.set(token, grant.user)
      return { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' }
    })
    const who = (authorization: string | undefined) =>
      tokens.get(String(authorization).replace(/^Bearer /i, ''))
    fake.get('/user', async (request, reply) => {
      const user = who(request.headers.authorization)
      if (!user) return reply.code(401).send({ message: 'Bad credentials' })
      return { id: users[user]!.id, login: user, email: users[user]!.email }
    })
    fake.get('/user/emails', async (request, reply) => {
      const user = who(request.headers.authorization)
      if (!user) return reply.code(401).send({ message: 'Bad credentials' })
      return users[user]!.emails
    })
    // Discord-style: one profile with the email and its own `verified` flag, no list of emails.
    fake.get('/api/users/@me', async (request, reply) => {
      const user = who(request.headers.authorization)
      if (!user) return reply.code(401).send({ message: '401: Unauthorized' })
      const primary = users[user]!.emails.find((entry) => entry.primary === true)
      return {
        id: String(users[user]!.id),
        username: user,
        email: primary?.email,
        verified: primary?.verified,
      }
    })
    await fake.listen({ port: 0, host: '127.0.0.1' })
    fakeBase = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`

    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    app = Fastify()
    await app.register(fastifyUsers, {
      secret: SECRET,
      database: database.db as Kysely<unknown>,
      migrate: true,
      authBackend: 'session',
      requireVerificationOnRegistration: false,
      rateLimit: false,
      oauth: {
        baseUrl: base,
        providers: {
          github: {
            clientId: 'gh-app',
            clientSecret: 'gh-secret',
            authorizationEndpoint: `${fakeBase}/login/oauth/authorize`,
            tokenEndpoint: `${fakeBase}/login/oauth/access_token`,
            userinfoEndpoint: `${fakeBase}/user`,
            emailsEndpoint: `${fakeBase}/user/emails`,
            allowInsecureRequests: true,
          },
          discord: {
            clientId: 'dc-app',
            clientSecret: 'dc-secret',
            authorizationEndpoint: `${fakeBase}/login/oauth/authorize`,
            tokenEndpoint: `${fakeBase}/login/oauth/access_token`,
            userinfoEndpoint: `${fakeBase}/api/users/@me`,
            allowInsecureRequests: true,
          },
        },
      },
    })
    await app.listen({ port, host: '127.0.0.1' })
  })
  after(async () => {
    await app?.close()
    await fake?.close()
    await database?.destroy()
  })

  it('logs in with the primary verified email and the numeric id as subject', async () => {
    const browser = new Browser()
    const start = await browser.request(`${base}/oauth/github/authorize`)
    const url = new URL(String(start.location))
    assert.equal(url.origin, fakeBase)
    assert.equal(url.searchParams.get('scope'), 'read:user user:email')
    assert.equal(url.searchParams.get('nonce'), null)
    const done = await browser.follow(String(start.location), (u) => u.origin === base && u.pathname === '/')
    assert.equal(done.status, 303, done.body)
    const me = JSON.parse((await browser.request(`${base}/users/me`)).body) as Record<string, unknown>
    assert.equal(me.email, 'octo@example.com')
    assert.equal(me.isVerified, true)
    const accounts = JSON.parse((await browser.request(`${base}/users/me/oauth`)).body) as Array<
      Record<string, unknown>
    >
    assert.deepEqual(
      accounts.map((a) => [a.provider, a.subject]),
      [['github', '583231']],
    )
  })

  it('no verified primary email: the account is created unverified', async () => {
    users.ghost = {
      id: 42,
      email: 'ghost@example.com',
      emails: [{ email: 'ghost@example.com', primary: true, verified: false }],
    }
    nextUser = 'ghost'
    const browser = new Browser()
    const start = await browser.request(`${base}/oauth/github/authorize`)
    await browser.follow(String(start.location), (u) => u.origin === base && u.pathname === '/')
    const me = JSON.parse((await browser.request(`${base}/users/me`)).body) as Record<string, unknown>
    assert.equal(me.email, 'ghost@example.com')
    assert.equal(me.isVerified, false)
  })

  it('a profile-only provider (the Discord preset, endpoints overridden): its id, email and verified flag', async () => {
    const signIn = async (login: string) => {
      nextUser = login
      const browser = new Browser()
      const start = await browser.request(`${base}/oauth/discord/authorize`)
      assert.equal(new URL(String(start.location)).searchParams.get('scope'), 'identify email')
      const done = await browser.follow(
        String(start.location),
        (u) => u.origin === base && u.pathname === '/',
      )
      assert.equal(done.status, 303, done.body)
      return JSON.parse((await browser.request(`${base}/users/me`)).body) as Record<string, unknown>
    }
    users.nelly = {
      id: 803511102246789,
      email: null,
      emails: [{ email: 'nelly@example.com', primary: true, verified: true }],
    }
    users.vera = {
      id: 7,
      email: null,
      emails: [{ email: 'vera@example.com', primary: true, verified: false }],
    }
    const nelly = await signIn('nelly')
    assert.equal(nelly.email, 'nelly@example.com')
    assert.equal(nelly.isVerified, true)
    assert.deepEqual(
      (await app.users.oauth.list(String(nelly.id))).map((a) => [a.provider, a.subject]),
      [['discord', '803511102246789']],
    )
    const vera = await signIn('vera')
    assert.equal(vera.email, 'vera@example.com')
    assert.equal(vera.isVerified, false)
    nextUser = 'octo'
  })

  it('the provider routes are in the OpenAPI document, each with its operationId', async () => {
    const doc = JSON.parse((await new Browser().request(`${base}/docs/json`)).body) as {
      paths: Record<string, Record<string, { operationId?: string }>>
    }
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId))
    for (const id of [
      'oauthAuthorize',
      'oauthCallback',
      'linkOAuthAccount',
      'listLinkedAccounts',
      'unlinkOAuthAccount',
    ]) {
      assert.ok(ids.includes(id), id)
    }
  })

  it('a replayed code is refused by the provider and answers 400', async () => {
    nextUser = 'octo'
    const browser = new Browser()
    const start = await browser.request(`${base}/oauth/github/authorize`)
    const toCallback = await browser.request(String(start.location))
    const callback = String(toCallback.location)
    const cookie = browser.jar.get('fastify-users-oauth')!
    assert.equal((await browser.request(callback)).status, 303)
    browser.jar.set('fastify-users-oauth', cookie)
    const replay = await browser.request(callback)
    assert.equal(replay.status, 400)
    assert.equal((JSON.parse(replay.body) as { code: string }).code, 'ERR_OAUTH_CALLBACK')
  })

  it('provider tokens are not stored by default', async () => {
    const octo = await app.users.getUserBy({ email: 'octo@example.com' })
    assert.ok(octo)
    assert.equal((await app.users.oauth.list(octo.id)).length, 1)
    assert.equal(await app.users.oauth.tokens(octo.id, 'github'), null)
  })

  it('a constructed service without an oauthAccountRepository is refused at registration', async () => {
    const repos = createKyselyRepositories(database.db as Kysely<unknown>)
    const { oauthAccountRepository: _left, ...withoutLinks } = repos
    const service = new BaseUserService({ secret: SECRET, ...withoutLinks })
    const other = Fastify()
    try {
      await assert.rejects(
        (async () => {
          await other.register(fastifyUsers, {
            service,
            authBackend: 'session',
            oauth: {
              baseUrl: base,
              secret: SECRET,
              providers: { github: { clientId: 'app', clientSecret: 'secret' } },
            },
          })
          await other.ready()
        })(),
        (err: unknown) => err instanceof TypeError && err.message.includes('`oauthAccountRepository`'),
      )
    } finally {
      await other.close().catch(() => {})
    }
  })
})
