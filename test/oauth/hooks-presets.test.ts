/**
 * Around the protocol: the service's hooks of provider login and linking (a constructed service whose
 * subclass overrides them, behind the plugin's routes and the local OpenID Connect provider), the
 * password a provider-created user gets from the reset flow, the issuer of the answer checked against the
 * provider's (mix-up defence), and the presets: their endpoints and scopes, each one overridable.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { LinkedAccount, OAuthIdentity } from '../../src/core/oauth-accounts.js'
import { fastifyUsers } from '../../src/fastify/index.js'
import { OAuthProvider, type OAuthProviderOptions } from '../../src/fastify/oauth/providers.js'
import { type BaseUser, BaseUserService } from '../../src/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { Browser } from './browser.js'
import { clientOf, freePort, startIdp, stopIdp, type TestIdp } from './test-idp.js'

const SECRET = 'oauth-test-secret-0123456789-abcdefghijklmnopq'
const PASSWORD = 'correct horse battery staple'
const ACCOUNTS: Record<string, { email: string; email_verified: boolean }> = {}

/** A service whose hooks record their calls; the pre-login hook lets only one domain in. */
class HookedService extends BaseUserService {
  readonly calls: string[] = []
  readonly resetTokens = new Map<string, string>()

  override async sendPasswordResetToken(user: BaseUser, token: string): Promise<void> {
    this.resetTokens.set(user.email, token)
  }

  override async preOAuthLoginHook(identity: OAuthIdentity): Promise<boolean> {
    this.calls.push(`pre:${identity.provider}:${identity.subject}`)
    return identity.email?.endsWith('@allowed.example') ?? false
  }

  override async postOAuthLoginHook(user: BaseUser, identity: OAuthIdentity): Promise<void> {
    this.calls.push(`login:${user.email}:${identity.subject}`)
  }

  override async postOAuthLinkHook(user: BaseUser, account: LinkedAccount): Promise<void> {
    this.calls.push(`link:${user.email}:${account.provider}:${account.subject}`)
  }
}

describe('provider sign-in: hooks and the answer issuer', () => {
  let database: TestDatabase<unknown>
  let idp: TestIdp | undefined
  let app: FastifyInstance
  let base: string
  let service: HookedService

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db as Kysely<unknown>)
    const appPort = await freePort()
    base = `http://127.0.0.1:${appPort}`
    idp = await startIdp(base, (id) => ({ ...ACCOUNTS[id] }))
    service = new HookedService({
      secret: SECRET,
      requireVerificationOnRegistration: false,
      ...createKyselyRepositories(database.db as Kysely<unknown>),
    })
    app = Fastify()
    await app.register(fastifyUsers, {
      service,
      authBackend: 'session',
      rateLimit: false,
      oauth: {
        baseUrl: base,
        secret: SECRET,
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

  /** Logs in at the provider as `login` from `start`, and answers the callback URL (not requested). */
  async function toCallback(browser: Browser, start: string, login: string, method = 'GET') {
    return new URL(await browser.toCallback(start, login, String(idp?.issuer), method))
  }

  it('the pre-login hook refuses an identity (401, no user), the post hooks see each login and link', async () => {
    ACCOUNTS.out = { email: 'out@elsewhere.example', email_verified: true }
    service.calls.length = 0
    const refused = new Browser()
    const answer = await refused.request(
      (await toCallback(refused, `${base}/oauth/idp/authorize`, 'out')).href,
    )
    assert.equal(answer.status, 401, answer.body)
    assert.equal(await service.getUserBy({ email: 'out@elsewhere.example' }), null)
    assert.deepEqual(service.calls, ['pre:idp:out'])

    ACCOUNTS.in = { email: 'in@allowed.example', email_verified: true }
    service.calls.length = 0
    const browser = new Browser()
    const done = await browser.request((await toCallback(browser, `${base}/oauth/idp/authorize`, 'in')).href)
    assert.equal(done.status, 303, done.body)
    // A new identity: the user is created, the link made (its hook), then the login (its hook).
    assert.deepEqual(service.calls, [
      'pre:idp:in',
      'link:in@allowed.example:idp:in',
      'login:in@allowed.example:in',
    ])

    // Linking from an account with a password: the link hook, and no login hook (nobody logs in).
    await service.addUser({ email: 'owner@allowed.example', password: PASSWORD }, { verify: true })
    ACCOUNTS.second = { email: 'second@elsewhere.example', email_verified: false }
    const owner = new Browser()
    const login = await owner.request(`${base}/login`, {
      json: { email: 'owner@allowed.example', password: PASSWORD },
    })
    assert.equal(login.status, 200, login.body)
    service.calls.length = 0
    const callback = await toCallback(owner, `${base}/users/me/oauth/idp/link`, 'second', 'POST')
    assert.equal((await owner.request(callback.href)).status, 303)
    assert.deepEqual(service.calls, ['link:owner@allowed.example:idp:second'])
  })

  it('a user created by a provider has no password until the reset flow sets one', async () => {
    ACCOUNTS.nopass = { email: 'nopass@allowed.example', email_verified: true }
    const browser = new Browser()
    assert.equal(
      (await browser.request((await toCallback(browser, `${base}/oauth/idp/authorize`, 'nopass')).href))
        .status,
      303,
    )
    const byPassword = () =>
      new Browser().request(`${base}/login`, {
        json: { email: 'nopass@allowed.example', password: PASSWORD },
      })
    assert.equal((await byPassword()).status, 401)
    const unlink = await browser.request(`${base}/users/me/oauth/idp`, { method: 'DELETE' })
    assert.equal(unlink.status, 409, 'the provider is the only way in')
    await service.initiatePasswordReset('nopass@allowed.example')
    await service.settled()
    const token = service.resetTokens.get('nopass@allowed.example')
    assert.ok(token)
    await service.resetPassword(token, PASSWORD)
    const login = await byPassword()
    assert.equal(login.status, 200, login.body)
    // Now the password is a way in: the provider may go.
    const owner = new Browser()
    await owner.request(`${base}/login`, { json: { email: 'nopass@allowed.example', password: PASSWORD } })
    assert.equal((await owner.request(`${base}/users/me/oauth/idp`, { method: 'DELETE' })).status, 204)
  })

  it("an answer naming another issuer than the provider's is refused (mix-up defence)", async () => {
    ACCOUNTS.mix = { email: 'mix@allowed.example', email_verified: true }
    const browser = new Browser()
    const callback = await toCallback(browser, `${base}/oauth/idp/authorize`, 'mix')
    // The provider names itself in its answer (RFC 9207); the callback checks it.
    assert.equal(callback.searchParams.get('iss'), idp?.issuer)
    callback.searchParams.set('iss', 'https://attacker.example')
    const answer = await browser.request(callback.href)
    assert.equal(answer.status, 400, answer.body)
    assert.equal((JSON.parse(answer.body) as { code: string }).code, 'ERR_OAUTH_CALLBACK')
    assert.equal(await service.getUserBy({ email: 'mix@allowed.example' }), null)
  })
})

describe('provider presets', () => {
  let idp: TestIdp | undefined
  const redirectUri = 'https://app.example.com/oauth/x/callback'
  before(async () => {
    idp = await startIdp('https://app.example.com', () => ({}))
  })
  after(async () => {
    await stopIdp(idp)
  })

  async function authorize(name: string, options: OAuthProviderOptions): Promise<URL> {
    return (await new OAuthProvider(name, options, redirectUri).authorizationUrl()).url
  }

  it('the plain OAuth 2 presets (GitHub, Discord) send to their own endpoints with their scopes', async () => {
    const github = await authorize('github', { clientId: 'gh' })
    assert.equal(`${github.origin}${github.pathname}`, 'https://github.com/login/oauth/authorize')
    assert.equal(github.searchParams.get('scope'), 'read:user user:email')
    assert.equal(github.searchParams.get('code_challenge_method'), 'S256')
    assert.equal(github.searchParams.get('redirect_uri'), redirectUri)
    const discord = await authorize('chat', { preset: 'discord', clientId: 'dc' })
    assert.equal(`${discord.origin}${discord.pathname}`, 'https://discord.com/oauth2/authorize')
    assert.equal(discord.searchParams.get('scope'), 'identify email')
    assert.equal(discord.searchParams.get('nonce'), null, 'no ID token, no nonce')
    const moved = await authorize('discord', {
      clientId: 'dc',
      authorizationEndpoint: 'https://discord.internal.example/authorize',
    })
    assert.equal(`${moved.origin}${moved.pathname}`, 'https://discord.internal.example/authorize')
  })

  it('every OpenID Connect preset takes an overridden issuer (self-hosted GitLab, tests), keeping its scopes', async () => {
    const issuer = String(idp?.issuer)
    const expected: Record<string, OAuthProviderOptions & { scope: string }> = {
      google: { clientId: 'app', scope: 'openid email profile' },
      gitlab: { clientId: 'app', scope: 'openid email profile' },
      microsoft: { clientId: 'app', tenant: 'contoso.example', scope: 'openid email profile' },
      apple: { clientId: 'app', clientSecret: 'not-a-key', scope: 'openid email name' },
    }
    for (const [name, { scope, ...options }] of Object.entries(expected)) {
      const url = await authorize(name, { ...options, issuer, allowInsecureRequests: true })
      assert.equal(`${url.origin}${url.pathname}`, `${issuer}/auth`, name)
      assert.equal(url.searchParams.get('scope'), scope, name)
      assert.ok(url.searchParams.get('nonce'), `${name}: a nonce`)
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256', name)
    }
    assert.throws(() => new OAuthProvider('microsoft', { clientId: 'app' }, redirectUri), /tenant/)
    assert.throws(() => new OAuthProvider('apple', { clientId: 'app' }, redirectUri), /teamId/)
  })
})
