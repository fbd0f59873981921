/**
 * Step-up of the sensitive changes over HTTP, on one database: a new password, a new email, a new
 * username and removing a passkey each take the current password or a recent step-up proof of the
 * asking credential (a login, a passkey login, or `POST /users/me/reauthenticate`); with neither they
 * answer 403 `ERR_STEP_UP_REQUIRED` and change nothing; the window ends on the test clock. An account
 * without a password makes these changes through the window. One file per database
 * (`step-up-changes-*.test.ts`).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SensitiveChanges } from '../../src/core/sensitive-changes.js'
import { UNUSABLE_PASSWORD_HASH } from '../../src/index.js'
import { StepUpRequiredError } from '../../src/kernel/account-errors.js'
import type { TestDialect } from '../helpers/databases.js'
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js'
import {
  assertProblem,
  BASE_URL,
  buildApp,
  cookieOf,
  json,
  PASSWORD,
  type TestApp,
  uniqueEmail,
} from './build-app.js'

const NEW_PASSWORD = 'a brand new long passphrase'
const passkeys = { rpId: 'app.example.com', rpName: 'Example', origins: [BASE_URL] }
/** Past the default step-up window of 10 minutes, in seconds. */
const PAST_WINDOW = 11 * 60

/** The step-up suites on one database. */
export function stepUpChangesSuite(dialect: TestDialect): void {
  describe(`step-up of sensitive changes on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        routes: { twoFactor: {} },
        passkeys,
      })
    })
    after(async () => {
      await t?.destroy()
    })

    const me = async (headers: Record<string, string>) =>
      json<{ email: string; pendingEmail: string | null }>(
        await t.request({ method: 'GET', url: '/users/me', headers }),
      )
    const reauthenticate = (headers: Record<string, string>, password = PASSWORD) =>
      t.request({ method: 'POST', url: '/users/me/reauthenticate', headers, payload: { password } })
    const changePassword = (headers: Record<string, string>, payload: Record<string, unknown>) =>
      t.request({ method: 'POST', url: '/users/me/password', headers, payload })
    const loginStatus = async (email: string, password: string) =>
      (await t.request({ method: 'POST', url: '/login', payload: { email, password } })).statusCode
    const enrol = async (headers: Record<string, string>) => {
      const options = await t.request({ method: 'POST', url: '/users/me/passkeys/options', headers })
      assert.equal(options.statusCode, 200, options.body)
      const device = new SoftwareAuthenticator({ origin: BASE_URL, rpId: passkeys.rpId })
      const created = await t.request({
        method: 'POST',
        url: '/users/me/passkeys',
        headers,
        payload: { credential: device.create(json(options) as never) },
      })
      assert.equal(created.statusCode, 201, created.body)
      return { device, id: json<{ id: string }>(created).id }
    }

    it('a password change takes a login within the window; past it, 403 and nothing changes; reauthenticating renews it', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      t.clock.advance(PAST_WINDOW)
      assertProblem(await changePassword(headers, { newPassword: NEW_PASSWORD }), 403, 'ERR_STEP_UP_REQUIRED')
      assert.equal(await loginStatus(email, PASSWORD), 200, 'the password is unchanged')
      assert.equal(await loginStatus(email, NEW_PASSWORD), 401)
      assert.equal(
        (await reauthenticate(headers, 'not the password')).statusCode,
        403,
        'a wrong password gives no proof',
      )
      assertProblem(await changePassword(headers, { newPassword: NEW_PASSWORD }), 403, 'ERR_STEP_UP_REQUIRED')
      assert.equal((await reauthenticate(headers)).statusCode, 204)
      const changed = await changePassword(headers, { newPassword: NEW_PASSWORD })
      assert.equal(changed.statusCode, 204, changed.body)
      assert.equal(await loginStatus(email, NEW_PASSWORD), 200)
      assert.equal(await loginStatus(email, PASSWORD), 401)
    })

    it('a fresh login is a proof until the window ends, and the current password is one at any time', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      t.clock.advance(9 * 60)
      const inWindow = await changePassword(headers, { newPassword: NEW_PASSWORD })
      assert.equal(inWindow.statusCode, 204, inWindow.body)
      // The change ended the other credentials; this client got a fresh cookie (a new login, a new proof).
      const cookie = cookieOf(inWindow, t.cookieName ?? '')
      const next = { cookie: `${t.cookieName}=${cookie?.value}` }
      t.clock.advance(PAST_WINDOW)
      assertProblem(await changePassword(next, { newPassword: PASSWORD }), 403, 'ERR_STEP_UP_REQUIRED')
      assertProblem(
        await changePassword(next, { currentPassword: 'not the password', newPassword: PASSWORD }),
        403,
        'ERR_WRONG_PASSWORD',
      )
      const withPassword = await changePassword(next, {
        currentPassword: NEW_PASSWORD,
        newPassword: PASSWORD,
      })
      assert.equal(withPassword.statusCode, 204, withPassword.body)
      assert.equal(await loginStatus(email, PASSWORD), 200)
    })

    it('an email change past the window answers 403, holds no pending address and mails nobody', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      t.clock.advance(PAST_WINDOW)
      const target = uniqueEmail('stepup')
      const refused = await t.request({
        method: 'PATCH',
        url: '/users/me',
        headers,
        payload: { email: target, displayName: 'Changed' },
      })
      assertProblem(refused, 403, 'ERR_STEP_UP_REQUIRED')
      assert.equal((await me(headers)).pendingEmail, null)
      assert.equal((await t.mailsTo(target)).length, 0)
      assert.equal((await t.mailsTo(email)).length, 0)
      assert.equal((await reauthenticate(headers)).statusCode, 204)
      const held = await t.request({ method: 'PATCH', url: '/users/me', headers, payload: { email: target } })
      assert.equal(held.statusCode, 200, held.body)
      assert.equal((await me(headers)).pendingEmail, target)
      assert.equal((await t.mailsTo(target)).length, 1, 'the confirmation goes to the new address')
    })

    it('a passkey renews the window; its options answer neither another session nor twice', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      const other = await t.login(email)
      const { device } = await enrol(headers)
      t.clock.advance(PAST_WINDOW)
      const optionsOf = async (h: Record<string, string>) => {
        const res = await t.request({
          method: 'POST',
          url: '/users/me/reauthenticate/passkey/options',
          headers: h,
        })
        assert.equal(res.statusCode, 200, res.body)
        return json(res) as never
      }
      const prove = (h: Record<string, string>, passkey: unknown) =>
        t.request({ method: 'POST', url: '/users/me/reauthenticate', headers: h, payload: { passkey } })
      const assertion = device.get(await optionsOf(headers))
      // Made for this session: presented by another session of the same user, it proves nothing.
      assertProblem(await prove(other, assertion), 403, 'ERR_INVALID_OTP')
      assertProblem(await changePassword(other, { newPassword: NEW_PASSWORD }), 403, 'ERR_STEP_UP_REQUIRED')
      assert.equal((await prove(headers, assertion)).statusCode, 204)
      assertProblem(await prove(headers, assertion), 403, 'ERR_INVALID_OTP')
      const changed = await changePassword(headers, { newPassword: NEW_PASSWORD })
      assert.equal(changed.statusCode, 204, changed.body)
    })

    it('adding a passkey past the window answers 403 with no challenge; after a proof it is added', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      t.clock.advance(PAST_WINDOW)
      const options = (payload?: Record<string, unknown>) =>
        t.request({
          method: 'POST',
          url: '/users/me/passkeys/options',
          headers,
          ...(payload ? { payload } : {}),
        })
      assertProblem(await options(), 403, 'ERR_STEP_UP_REQUIRED')
      assertProblem(await options({ currentPassword: 'not the password' }), 403, 'ERR_WRONG_PASSWORD')
      assert.equal(
        json<unknown[]>(await t.request({ method: 'GET', url: '/users/me/passkeys', headers })).length,
        0,
      )
      // The current password with the request is a proof of its own; so is a reauthentication.
      assert.equal((await options({ currentPassword: PASSWORD })).statusCode, 200)
      assert.equal((await reauthenticate(headers)).statusCode, 204)
      await enrol(headers)
      assert.equal(
        json<unknown[]>(await t.request({ method: 'GET', url: '/users/me/passkeys', headers })).length,
        1,
      )
    })

    it('removing a passkey past the window answers 403 and keeps it; after a proof it goes', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      const { id } = await enrol(headers)
      t.clock.advance(PAST_WINDOW)
      const url = `/users/me/passkeys/${id}`
      assertProblem(await t.request({ method: 'DELETE', url, headers }), 403, 'ERR_STEP_UP_REQUIRED')
      assertProblem(
        await t.request({ method: 'DELETE', url, headers, payload: {} }),
        403,
        'ERR_STEP_UP_REQUIRED',
      )
      const listed = await t.request({ method: 'GET', url: '/users/me/passkeys', headers })
      assert.equal(json<unknown[]>(listed).length, 1)
      assert.equal((await reauthenticate(headers)).statusCode, 204)
      const removed = await t.request({ method: 'DELETE', url, headers })
      assert.equal(removed.statusCode, 204, removed.body)
    })

    it('an account without a password changes it, and its email, through a passkey login', async () => {
      const { email, user } = await t.createUser()
      const { device } = await enrol(await t.login(email))
      // As an account made by a passkey or an identity provider: no password to give.
      await t.db
        .updateTable('users')
        .set({ password_hash: UNUSABLE_PASSWORD_HASH })
        .where('id', '=', user.id as never)
        .execute()
      const options = await t.request({ method: 'POST', url: '/login/passkey/options' })
      const login = await t.request({
        method: 'POST',
        url: '/login/passkey',
        payload: device.get(json(options) as never),
      })
      assert.equal(login.statusCode, 200, login.body)
      const headers = { cookie: `${t.cookieName}=${cookieOf(login, t.cookieName ?? '')?.value}` }
      assertProblem(
        await changePassword(headers, { currentPassword: 'anything', newPassword: NEW_PASSWORD }),
        403,
        'ERR_WRONG_PASSWORD',
      )
      const target = uniqueEmail('passwordless')
      const held = await t.request({ method: 'PATCH', url: '/users/me', headers, payload: { email: target } })
      assert.equal(held.statusCode, 200, held.body)
      const set = await changePassword(headers, { newPassword: NEW_PASSWORD })
      assert.equal(set.statusCode, 204, set.body)
      // The new password is right; the passkey the user holds is then asked as the second step.
      assert.equal(await loginStatus(email, NEW_PASSWORD), 202)
      t.clock.advance(PAST_WINDOW)
      const next = { cookie: `${t.cookieName}=${cookieOf(set, t.cookieName ?? '')?.value}` }
      assertProblem(await changePassword(next, { newPassword: PASSWORD }), 403, 'ERR_STEP_UP_REQUIRED')
    })

    it('holds for application code: without a password or a proof, the service refuses', async () => {
      const { user } = await t.createUser()
      const changes = new SensitiveChanges(t.app.users)
      await assert.rejects(
        changes.changePassword(user.id, NEW_PASSWORD, { credentialId: 'no proof here' }),
        StepUpRequiredError,
      )
      await assert.rejects(changes.requestEmailChange(user.id, uniqueEmail('app'), {}), StepUpRequiredError)
      const unchanged = await t.app.users.getUser(user.id)
      assert.equal(unchanged.pendingEmail, null)
      assert.equal(unchanged.authVersion, user.authVersion)
    })
  })

  describe(`step-up of a username change on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({
        backend: 'session',
        dialect: dialect.name,
        userAuthIdentifier: 'username',
        routes: { twoFactor: {} },
      })
    })
    after(async () => {
      await t?.destroy()
    })

    it('a new username needs a proof like a new email; other fields do not', async () => {
      const email = uniqueEmail('named')
      const username = `named_${Date.now()}`
      const registered = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email, username, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 202, registered.body)
      const verified = await t.request({
        method: 'POST',
        url: '/verify',
        payload: { token: await t.tokenFor(email, /Verify/), password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200, verified.body)
      const login = await t.request({
        method: 'POST',
        url: '/login',
        payload: { username, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const headers = { cookie: `${t.cookieName}=${cookieOf(login, t.cookieName ?? '')?.value}` }
      const patch = (payload: Record<string, unknown>) =>
        t.request({ method: 'PATCH', url: '/users/me', headers, payload })
      t.clock.advance(PAST_WINDOW)
      assertProblem(await patch({ username: `${username}_new` }), 403, 'ERR_STEP_UP_REQUIRED')
      assert.equal((await patch({ displayName: 'Free to change' })).statusCode, 200)
      assert.equal((await patch({ username })).statusCode, 200, 'the same username is no change')
      assertProblem(
        await patch({ username: `${username}_new`, currentPassword: 'not the password' }),
        403,
        'ERR_WRONG_PASSWORD',
      )
      const renamed = await patch({ username: `${username}_new`, currentPassword: PASSWORD })
      assert.equal(renamed.statusCode, 200, renamed.body)
      assert.equal(json<{ username: string }>(renamed).username, `${username}_new`)
    })
  })
}
