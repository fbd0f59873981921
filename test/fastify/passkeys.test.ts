/**
 * Passkeys over HTTP with a software authenticator: register from a logged-in session, log in with the
 * passkey alone on every backend, list, rename, remove with the password, another user's passkey a 404,
 * replays and bad input refused with problem+json and nothing changed. On every database.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { testDialects } from '../helpers/databases.js'
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js'
import { assertProblem, BASE_URL, buildApp, cookieOf, json, PASSWORD, type TestApp } from './build-app.js'

const passkeys = { rpId: 'app.example.com', rpName: 'Example', origins: [BASE_URL] }

interface PasskeyBody {
  id: string
  name: string
  lastUsedAt: string | null
}

async function enrol(t: TestApp, headers: Record<string, string>, name?: string) {
  // No step-up window in these apps (two-factor routes off): the password is the proof a new passkey needs.
  const options = await t.request({
    method: 'POST',
    url: '/users/me/passkeys/options',
    headers,
    payload: { currentPassword: PASSWORD },
  })
  assert.equal(options.statusCode, 200, options.body)
  const device = new SoftwareAuthenticator({ origin: BASE_URL, rpId: passkeys.rpId })
  const created = await t.request({
    method: 'POST',
    url: '/users/me/passkeys',
    headers,
    payload: { credential: device.create(json(options) as never), ...(name ? { name } : {}) },
  })
  assert.equal(created.statusCode, 201, created.body)
  return { device, passkey: json<PasskeyBody>(created) }
}

async function passkeyLogin(t: TestApp, device: SoftwareAuthenticator) {
  const options = await t.request({ method: 'POST', url: '/login/passkey/options' })
  assert.equal(options.statusCode, 200, options.body)
  const assertion = device.get(json(options) as never)
  return { assertion, res: await t.request({ method: 'POST', url: '/login/passkey', payload: assertion }) }
}

for (const dialect of testDialects) {
  for (const backend of dialect.name === 'sqlite'
    ? (['session', 'jwt', 'jwt-cookie'] as const)
    : (['session'] as const)) {
    describe(`passkeys over HTTP on ${dialect.name}, ${backend}`, { skip: dialect.skip }, () => {
      let t: TestApp
      before(async () => {
        t = await buildApp({ backend, dialect: dialect.name, rateLimit: false, passkeys })
      })
      after(async () => {
        await t?.destroy()
      })

      it('registers a passkey and logs in with it alone; a replayed assertion fails', async () => {
        const { email, user } = await t.createUser()
        const { device, passkey } = await enrol(t, await t.login(email), 'Laptop')
        assert.equal(passkey.name, 'Laptop')
        const { assertion, res } = await passkeyLogin(t, device)
        assert.equal(res.statusCode, 200, res.body)
        assert.equal(json<{ id: unknown }>(res).id, user.id)
        if (t.cookieName) assert.ok(cookieOf(res, t.cookieName))
        else assert.ok(json<{ accessToken?: string }>(res).accessToken)
        const replay = await t.request({ method: 'POST', url: '/login/passkey', payload: assertion })
        assertProblem(replay, 401, 'ERR_INVALID_CREDENTIALS')
      })

      it('adding a passkey needs the password: without it, or with a wrong one, 403 and no challenge', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const options = (payload?: Record<string, unknown>) =>
          t.request({
            method: 'POST',
            url: '/users/me/passkeys/options',
            headers,
            ...(payload ? { payload } : {}),
          })
        assertProblem(await options(), 403, 'ERR_STEP_UP_REQUIRED')
        assertProblem(await options({}), 403, 'ERR_STEP_UP_REQUIRED')
        assertProblem(await options({ currentPassword: 'not the password' }), 403, 'ERR_WRONG_PASSWORD')
        assertProblem(await options({ currentPassword: PASSWORD, extra: 1 }), 400, 'ERR_VALIDATION')
        const rows = await t.db.selectFrom('passkey_challenges').select('id').execute()
        const before = rows.length
        assert.equal((await options({ currentPassword: PASSWORD })).statusCode, 200)
        assert.equal((await t.db.selectFrom('passkey_challenges').select('id').execute()).length, before + 1)
      })

      it('lists, renames and removes your passkeys; removal needs the password; others get 404', async () => {
        const { email } = await t.createUser()
        const headers = await t.login(email)
        const { passkey } = await enrol(t, headers)
        const stranger = await t.login((await t.createUser()).email)
        const list = await t.request({ method: 'GET', url: '/users/me/passkeys', headers })
        assert.deepEqual(
          json<PasskeyBody[]>(list).map((p) => p.id),
          [passkey.id],
        )
        const url = `/users/me/passkeys/${passkey.id}`
        assertProblem(
          await t.request({ method: 'PATCH', url, headers: stranger, payload: { name: 'Mine' } }),
          404,
          'ERR_NOT_FOUND',
        )
        assertProblem(
          await t.request({
            method: 'DELETE',
            url,
            headers: stranger,
            payload: { currentPassword: PASSWORD },
          }),
          404,
          'ERR_NOT_FOUND',
        )
        assertProblem(
          await t.request({ method: 'PATCH', url, headers, payload: { name: '' } }),
          400,
          'ERR_VALIDATION',
        )
        const renamed = await t.request({ method: 'PATCH', url, headers, payload: { name: 'Phone' } })
        assert.equal(json<PasskeyBody>(renamed).name, 'Phone')
        assertProblem(
          await t.request({
            method: 'DELETE',
            url,
            headers,
            payload: { currentPassword: 'not the password' },
          }),
          403,
          'ERR_WRONG_PASSWORD',
        )
        // No step-up window in this app (two-factor routes off): the password is the only proof.
        assertProblem(
          await t.request({ method: 'DELETE', url, headers, payload: {} }),
          403,
          'ERR_STEP_UP_REQUIRED',
        )
        assert.equal(
          json<PasskeyBody[]>(await t.request({ method: 'GET', url: '/users/me/passkeys', headers })).length,
          1,
        )
        const removed = await t.request({
          method: 'DELETE',
          url,
          headers,
          payload: { currentPassword: PASSWORD },
        })
        assert.equal(removed.statusCode, 204, removed.body)
        const subjects = (await t.mailsTo(email)).map((m) => m.subject)
        assert.ok(
          subjects.some((s) => /passkey was added/.test(s)),
          'the account is told of the new passkey',
        )
        assert.ok(
          subjects.some((s) => /passkey was removed/.test(s)),
          'the account is told of the removal',
        )
        const removal = (await t.mailsTo(email)).find((m) => /removed/.test(m.subject))
        assert.match(removal?.text ?? '', /"Phone"/)
        assert.deepEqual(json(await t.request({ method: 'GET', url: '/users/me/passkeys', headers })), [])
      })

      it('refuses bad input with a 4xx problem and without a session', async () => {
        assertProblem(
          await t.request({ method: 'GET', url: '/users/me/passkeys' }),
          401,
          'ERR_UNAUTHENTICATED',
        )
        assertProblem(
          await t.request({ method: 'POST', url: '/login/passkey', payload: { id: 'x' } }),
          400,
          'ERR_VALIDATION',
        )
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/login/passkey',
            payload: { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 'bad' } },
          }),
          401,
          'ERR_INVALID_CREDENTIALS',
        )
        const headers = await t.login((await t.createUser()).email)
        assertProblem(
          await t.request({
            method: 'POST',
            url: '/users/me/passkeys',
            headers,
            payload: { credential: { id: 'x', rawId: 'x', type: 'public-key', response: {} } },
          }),
          400,
          'ERR_VALIDATION',
        )
        assertProblem(
          await t.request({ method: 'PATCH', url: '/users/me/passkeys/zz', headers, payload: { name: 'a' } }),
          400,
          'ERR_VALIDATION',
        )
      })
    })
  }
}

describe('passkeys option', () => {
  it('needs rpId, rpName and real origins', async () => {
    await assert.rejects(
      buildApp({ backend: 'session', passkeys: { ...passkeys, origins: ['https://x.example.com/path'] } }),
      /passkeys.origins/,
    )
    await assert.rejects(
      buildApp({ backend: 'session', passkeys: { ...passkeys, rpName: '' } }),
      /passkeys.rpName/,
    )
  })
})
