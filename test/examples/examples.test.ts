/**
 * The demo and the examples, started the way a newcomer starts them (a real subprocess, a real SQLite
 * file, real HTTP on 127.0.0.1) and walked through the whole flow: register, read the link the mailer
 * printed, verify, log in, read `/users/me` with the custom field, open the docs.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppProcess, Client, freePort, mailedToken } from './app-process.js'

const PASSWORD = 'correct horse battery staple'

interface UserBody {
  email: string
  isVerified: boolean
  displayName: string | null
  roles: { name: string }[]
  [field: string]: unknown
}

let tempDir: string
const running: AppProcess[] = []

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'fastify-users-examples-'))
})

after(async () => {
  await Promise.all(running.map((app) => app.stop()))
  await rm(tempDir, { recursive: true, force: true })
})

const secret = () => randomBytes(32).toString('base64url')

/** Starts an entry point on a free port and waits for its "listening on <url>" line. */
async function start(
  entry: string,
  env: Record<string, string | undefined> = {},
  cwd?: string,
): Promise<{ app: AppProcess; client: Client; url: string }> {
  const port = await freePort()
  const app = new AppProcess({ entry, cwd, env: { HOST: '127.0.0.1', PORT: String(port), ...env } })
  running.push(app)
  const [, url] = await app.waitForLine(/listening on (http:\/\/[^\s,]+)/)
  assert.equal(url, `http://127.0.0.1:${port}`)
  return { app, client: new Client(url!), url: url! }
}

/** Register, verify by the printed link, log in: the flow every app here must serve. */
async function registerVerifyLogin(
  app: AppProcess,
  client: Client,
  email: string,
  displayName: string,
): Promise<UserBody> {
  const before = app.lines.length
  const registered = await client.request('POST', '/register', { email, password: PASSWORD, displayName })
  assert.equal(registered.status, 202, registered.text)

  const { token, link } = await mailedToken(app, email, before)
  assert.equal(link.origin, client.base, 'the link points at the app')
  assert.equal(link.pathname, '/verify')

  const verified = await client.request('POST', '/verify', { token, password: PASSWORD })
  assert.equal(verified.status, 200, verified.text)
  assert.equal((verified.body as UserBody).isVerified, true)
  assert.equal((verified.body as UserBody).displayName, displayName)

  const login = await client.request('POST', '/login', { email, password: PASSWORD })
  assert.equal(login.status, 200, login.text)
  const loginBody = login.body as UserBody & { accessToken?: string }
  if (loginBody.accessToken) client.bearer = loginBody.accessToken
  else assert.ok(client.cookie, 'a cookie backend sets its cookie at login')

  const me = await client.request('GET', '/users/me')
  assert.equal(me.status, 200, me.text)
  assert.equal((me.body as UserBody).email, email)
  assert.equal((me.body as UserBody).displayName, displayName)
  assert.equal('passwordHash' in (me.body as object), false)
  return me.body as UserBody
}

async function assertDocs(client: Client): Promise<void> {
  const docs = await client.request('GET', '/docs')
  assert.equal(docs.status, 200)
  assert.match(docs.text, /swagger/i)
  const openapi = await client.request('GET', '/openapi.json')
  assert.equal(openapi.status, 200)
  assert.match(openapi.text, /"displayName"/)
}

describe('demo/server.ts', () => {
  it('serves the whole flow on SQLite, prints the docs URL and the mail links', async () => {
    const { app, client, url } = await start('demo/server.ts', {
      DATABASE_URL: `sqlite:${join(tempDir, 'demo.db')}`,
      USERS_SECRET: secret(),
    })
    await app.waitForLine(new RegExp(`docs: +${url}/docs$`))
    await registerVerifyLogin(app, client, 'ada@example.com', 'Ada Lovelace')
    await assertDocs(client)

    // Plain HTTP by default: the session cookie works in a browser on http://127.0.0.1.
    assert.match(client.cookie!, /^fastify-users-session=/)

    // The page the mailed link opens exists, and keeps the token out of Referer headers.
    const page = await client.request('GET', '/verify?token=x')
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer')
    // The verification page asks for the account's password, and the email-change pages exist.
    assert.match(page.text, /type="password"/)
    for (const path of ['/confirm-email?token=x', '/cancel-email?token=x']) {
      const other = await client.request('GET', path)
      assert.equal(other.status, 200, path)
      assert.equal(other.headers.get('referrer-policy'), 'no-referrer')
    }

    // A browser can log in at /login (the plugin's page, with a cookie backend), printed at start.
    await app.waitForLine(new RegExp(`login: +${url}/login$`))
    const login = await client.request('GET', '/login')
    assert.equal(login.status, 200)
    assert.match(login.headers.get('content-type') ?? '', /text\/html/)
    assert.match(login.text, /type="password"/)

    // Every route group is on: the admin routes answer 403 to a plain user, not 404.
    assert.equal((await client.request('GET', '/users')).status, 403)
    assert.equal((await client.request('GET', '/users/roles')).status, 403)

    const patched = await client.request('PATCH', '/users/me', { displayName: 'Countess of Lovelace' })
    assert.equal(patched.status, 200, patched.text)
    assert.equal((patched.body as UserBody).displayName, 'Countess of Lovelace')
    const tooLong = await client.request('PATCH', '/users/me', { displayName: 'x'.repeat(101) })
    assert.equal(tooLong.status, 400)

    assert.equal((await client.request('POST', '/logout')).status, 204)
    assert.equal((await client.request('GET', '/users/me')).status, 401)
  })

  it('runs on the JWT backend with AUTH_BACKEND=jwt', async () => {
    const { app, client } = await start('demo/server.ts', {
      DATABASE_URL: `sqlite:${join(tempDir, 'demo-jwt.db')}`,
      USERS_SECRET: secret(),
      AUTH_BACKEND: 'jwt',
    })
    await registerVerifyLogin(app, client, 'grace@example.com', 'Grace Hopper')
    assert.ok(client.bearer, 'the JWT backend answers the login with an access token')
    assert.equal(client.cookie, undefined)
    assert.equal((await client.request('POST', '/logout')).status, 204)
    assert.equal((await client.request('GET', '/users/me')).status, 401)
  })

  it('without USERS_SECRET, generates one under ./data (mode 0600), says so, and keeps it', async () => {
    const cwd = await mkdtemp(join(tempDir, 'fresh-clone-'))
    const first = await start('demo/server.ts', {}, cwd)
    await first.app.waitForLine(/generated one and kept it in data\/users-secret \(mode 0600\)/)
    const file = await stat(join(cwd, 'data', 'users-secret'))
    assert.equal(file.mode & 0o777, 0o600)
    await stat(join(cwd, 'data', 'demo.db')) // the default database, created and migrated

    const before = first.app.lines.length
    const registered = await first.client.request('POST', '/register', {
      email: 'katherine@example.com',
      password: PASSWORD,
    })
    assert.equal(registered.status, 202)
    const { token } = await mailedToken(first.app, 'katherine@example.com', before)
    await first.app.stop()

    // The second start reads the same secret, so the link mailed before the restart still works.
    const second = await start('demo/server.ts', {}, cwd)
    await second.app.waitForLine(/using the secret kept in data\/users-secret/)
    const verified = await second.client.request('POST', '/verify', { token, password: PASSWORD })
    assert.equal(verified.status, 200, verified.text)
  })
})

describe('examples/basic.ts', () => {
  it('serves the flow; the hooks count logins; the senders print the links', async () => {
    const { app, client } = await start('examples/basic.ts', {
      DATABASE_URL: `sqlite:${join(tempDir, 'basic.db')}`,
      USERS_SECRET: secret(),
    })
    const me = await registerVerifyLogin(app, client, 'ada@example.com', 'Ada')
    assert.equal(me.loginCount, 1, 'postLoginHook counted the login')
    await assertDocs(client)

    const hello = await client.request('GET', '/hello')
    assert.equal(hello.status, 200)
    assert.match((hello.body as { message: string }).message, /Hello, Ada! This is login number 1/)

    // loginCount is admin-only: a user cannot set it.
    assert.equal((await client.request('PATCH', '/users/me', { loginCount: 1000 })).status, 400)
    assert.equal((await new Client(client.base).request('GET', '/hello')).status, 401)

    // The overridden sendPasswordResetToken prints the reset link too.
    const before = app.lines.length
    assert.equal((await client.request('POST', '/forgot-password', { email: 'ada@example.com' })).status, 202)
    const { link } = await mailedToken(app, 'ada@example.com', before)
    assert.equal(link.pathname, '/reset-password')
  })
})

describe('examples/with-roles.ts', () => {
  it('guards its own routes by role; create-admin.ts makes the admin', async () => {
    const databaseUrl = `sqlite:${join(tempDir, 'with-roles.db')}`
    const { app, client } = await start('examples/with-roles.ts', {
      DATABASE_URL: databaseUrl,
      USERS_SECRET: secret(),
    })
    const me = await registerVerifyLogin(app, client, 'member@example.com', 'Mia')
    assert.deepEqual(
      me.roles.map((r) => r.name),
      ['member'],
      'the default role',
    )
    await assertDocs(client)

    assert.equal((await client.request('GET', '/members')).status, 200)
    assert.equal((await client.request('GET', '/reports')).status, 403)
    assert.equal((await client.request('GET', '/users')).status, 403)
    const anonymous = new Client(client.base)
    assert.equal((await anonymous.request('GET', '/reports')).status, 401)
    assert.equal((await anonymous.request('GET', '/members')).status, 401)

    const script = new AppProcess({
      entry: 'examples/create-admin.ts',
      args: ['boss@example.com'],
      env: { DATABASE_URL: databaseUrl, ADMIN_PASSWORD: PASSWORD },
    })
    running.push(script)
    assert.equal(await script.exited(), 0, script.output)
    await script.waitForLine(/^boss@example\.com is an admin \(new user, verified\)/)

    const admin = new Client(client.base)
    const login = await admin.request('POST', '/login', { email: 'boss@example.com', password: PASSWORD })
    assert.equal(login.status, 200, login.text)
    assert.equal((await admin.request('GET', '/reports')).status, 200)
    assert.equal((await admin.request('GET', '/members')).status, 200)
    const users = await admin.request('GET', '/users')
    assert.equal(users.status, 200)
    assert.equal((users.body as { total: number }).total, 2)

    // Running it again changes nothing and says so.
    const again = new AppProcess({
      entry: 'examples/create-admin.ts',
      args: ['boss@example.com'],
      env: { DATABASE_URL: databaseUrl },
    })
    running.push(again)
    assert.equal(await again.exited(), 0, again.output)
    await again.waitForLine(/is an admin \(existing user\)/)
    assert.equal(
      again.lines.some((line) => line.includes('password')),
      false,
    )
  })
})

describe('build()', () => {
  for (const entry of ['basic', 'with-roles']) {
    it(`examples/${entry}.ts exports build(), which returns the app without listening`, async () => {
      const { build } = (await import(`../../examples/${entry}.js`)) as {
        build: (options: {
          databaseUrl: string
          secret: string
        }) => Promise<import('fastify').FastifyInstance>
      }
      const app = await build({ databaseUrl: 'sqlite::memory:', secret: secret() })
      try {
        await app.ready()
        assert.equal(app.server.listening, false)
        const openapi = await app.inject({ url: '/openapi.json' })
        assert.equal(openapi.statusCode, 200)
        assert.match(openapi.body, /"displayName"/)
      } finally {
        await app.close()
      }
    })
  }
})
