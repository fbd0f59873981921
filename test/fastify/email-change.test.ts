/**
 * The email change over HTTP on the three backends: `PATCH /users/me {email, currentPassword}` holds the
 * new address as pending (it used to take effect at once, without the password: a stolen session could move
 * the account, and a typo locked the owner out), `POST /users/me/email/confirm` completes it with the
 * password, `POST /users/me/email/cancel` drops it and signs every session out. The admin path sets an
 * address directly and the service mails the verification link.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  assertNoSecrets,
  assertProblem,
  backends,
  buildApp,
  json,
  PASSWORD,
  type TestApp,
  type UserBody,
  uniqueEmail,
} from './build-app.js'

const CONFIRM = /confirm your new email/i
const NOTICE = /about to change/i

for (const backend of backends) {
  describe(`email change, ${backend} backend`, () => {
    let t: TestApp
    const me = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/users/me', headers })
    const patch = (headers: Record<string, string>, payload: Record<string, unknown>) =>
      t.request({ method: 'PATCH', url: '/users/me', headers, payload })
    const confirm = (payload: Record<string, unknown>) =>
      t.request({ method: 'POST', url: '/users/me/email/confirm', payload })
    const cancel = (payload: Record<string, unknown>) =>
      t.request({ method: 'POST', url: '/users/me/email/cancel', payload })
    const login = (email: string, password = PASSWORD) =>
      t.request({ method: 'POST', url: '/login', payload: { email, password } })

    before(async () => {
      t = await buildApp({ backend })
    })
    after(async () => {
      await t?.destroy()
    })

    it('PATCH /users/me with a new email needs a proof (403 step-up without a password or a step-up window, 403 when wrong) and changes nothing', async () => {
      const { email, user } = await t.createUser()
      const headers = await t.login(email)
      // No step-up window in this app (two-factor routes off): the current password is the only proof.
      const missing = await patch(headers, { email: uniqueEmail('nopw') })
      assertProblem(missing, 403, 'ERR_STEP_UP_REQUIRED')
      assertProblem(
        await patch(headers, { email: uniqueEmail('wrongpw'), currentPassword: 'not my password' }),
        403,
        'ERR_WRONG_PASSWORD',
      )
      assertProblem(
        await patch(headers, {
          email: uniqueEmail('wrongpw'),
          currentPassword: 'not my password',
          displayName: 'X',
        }),
        403,
        'ERR_WRONG_PASSWORD',
      )
      const body = json<UserBody>(await me(headers))
      assert.equal(body.email, email)
      assert.equal(body.pendingEmail, null)
      assert.notEqual(body.displayName, 'X')
      assert.equal((await t.mailsTo(email)).length, 0)
      assert.ok(user.id)
    })

    it('wrong current passwords are throttled like logins (429)', async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      const statuses: number[] = []
      for (let i = 0; i < 8; i++) {
        statuses.push(
          (await patch(headers, { email: uniqueEmail('guess'), currentPassword: `guess ${i}` })).statusCode,
        )
      }
      assert.ok(statuses.includes(429), statuses.join(','))
      assertProblem(
        await patch(headers, { email: uniqueEmail('guess'), currentPassword: PASSWORD }),
        429,
        'ERR_TOO_MANY_ATTEMPTS',
      )
    })

    it('holds the new address as pending: same email, same session, the old address still logs in and gets a cancel link', async () => {
      const { email: oldEmail } = await t.createUser()
      const headers = await t.login(oldEmail)
      const newEmail = uniqueEmail('pending')
      const res = await patch(headers, {
        email: newEmail.toUpperCase(),
        currentPassword: PASSWORD,
        displayName: 'Moving',
      })
      assert.equal(res.statusCode, 200, res.body)
      assertNoSecrets(res)
      const body = json<UserBody>(res)
      assert.equal(body.email, oldEmail)
      assert.equal(body.pendingEmail, newEmail)
      assert.equal(body.isVerified, true)
      assert.equal(body.displayName, 'Moving')
      assert.equal(json<UserBody>(await me(headers)).pendingEmail, newEmail, 'the session still works')
      assert.equal((await login(oldEmail)).statusCode, 200)
      assertProblem(await login(newEmail), 401, 'ERR_INVALID_CREDENTIALS')
      const toNew = await t.mailsTo(newEmail)
      assert.equal(toNew.length, 1)
      assert.match(toNew[0]!.subject, CONFIRM)
      assert.match(toNew[0]!.text, /https:\/\/app\.example\.com\/confirm-email#token=/)
      const toOld = await t.mailsTo(oldEmail)
      assert.equal(toOld.length, 1)
      assert.match(toOld[0]!.subject, NOTICE)
      assert.ok(toOld[0]!.text.includes(newEmail))
      assert.match(toOld[0]!.text, /https:\/\/app\.example\.com\/cancel-email#token=/)
    })

    it('POST /users/me/email/confirm with the password switches the address, ends every session, and tells the old address', async () => {
      const { email: oldEmail, user } = await t.createUser()
      const headers = await t.login(oldEmail)
      const newEmail = uniqueEmail('confirmed')
      assert.equal((await patch(headers, { email: newEmail, currentPassword: PASSWORD })).statusCode, 200)
      const token = await t.tokenFor(newEmail, CONFIRM)
      assertProblem(await confirm({ token }), 400, 'ERR_VALIDATION')
      assertProblem(await confirm({ token, password: 'not my password' }), 400, 'ERR_PASSWORD_REQUIRED')
      assertProblem(await confirm({ token, password: PASSWORD, extra: 1 }), 400, 'ERR_VALIDATION')
      const res = await confirm({ token, password: PASSWORD })
      assert.equal(res.statusCode, 204, res.body)
      assert.equal(res.body, '')
      assert.equal(res.headers['set-cookie'], undefined, 'confirming logs nobody in')
      assertProblem(await me(headers), 401)
      const after = await t.app.users.getUser(user.id)
      assert.equal(after.email, newEmail)
      assert.equal(after.pendingEmail, null)
      assert.equal(after.isVerified, true)
      await t.login(newEmail)
      assertProblem(await login(oldEmail), 401, 'ERR_INVALID_CREDENTIALS')
      const told = (await t.mailsTo(oldEmail)).filter((m) => /was changed/i.test(m.subject))
      assert.equal(told.length, 1)
      assert.ok(told[0]!.text.includes(newEmail))
      assertProblem(await confirm({ token, password: PASSWORD }), 400, 'ERR_INVALID_TOKEN')
    })

    it('POST /users/me/email/cancel drops the change, ends every session, and kills the confirm link', async () => {
      const { email: oldEmail, user } = await t.createUser()
      const headers = await t.login(oldEmail)
      const newEmail = uniqueEmail('cancelled')
      assert.equal((await patch(headers, { email: newEmail, currentPassword: PASSWORD })).statusCode, 200)
      const cancelToken = await t.tokenFor(oldEmail, NOTICE)
      const confirmToken = await t.tokenFor(newEmail, CONFIRM)
      assertProblem(await cancel({ token: confirmToken }), 400, 'ERR_INVALID_TOKEN')
      const res = await cancel({ token: cancelToken })
      assert.equal(res.statusCode, 204, res.body)
      assertProblem(await me(headers), 401)
      const after = await t.app.users.getUser(user.id)
      assert.equal(after.email, oldEmail)
      assert.equal(after.pendingEmail, null)
      assertProblem(await confirm({ token: confirmToken, password: PASSWORD }), 400, 'ERR_INVALID_TOKEN')
      assertProblem(await cancel({ token: cancelToken }), 400, 'ERR_INVALID_TOKEN')
      assertProblem(await cancel({}), 400, 'ERR_VALIDATION')
      await t.login(oldEmail)
    })

    it('a taken address is answered like a free one, and the confirmation is a 409 that changes nothing', async () => {
      const { email } = await t.createUser()
      const other = await t.createUser()
      const headers = await t.login(email)
      const res = await patch(headers, { email: other.email.toUpperCase(), currentPassword: PASSWORD })
      assert.equal(res.statusCode, 200, 'no enumeration of addresses through the change')
      assert.equal(json<UserBody>(res).pendingEmail, other.email)
      const token = await t.tokenFor(other.email, CONFIRM)
      assertProblem(await confirm({ token, password: PASSWORD }), 409, 'ERR_USER_EXISTS')
      assert.equal(json<UserBody>(await me(headers)).email, email)
    })

    it('an admin PATCH /users/:id {email} sets it at once, unverified, and the service mails the new address a link', async () => {
      const admin = await t.admin()
      const { email: oldEmail, user } = await t.createUser()
      const newEmail = uniqueEmail('byadmin')
      const res = await t.request({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: admin.headers,
        payload: { email: newEmail },
      })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(json<UserBody>(res).email, newEmail)
      assert.equal(json<UserBody>(res).isVerified, false)
      const token = await t.tokenFor(newEmail, /verify/i)
      assert.equal((await t.mailsTo(oldEmail)).filter((m) => /was changed/i.test(m.subject)).length, 1)
      assertProblem(
        await t.request({ method: 'POST', url: '/verify', payload: { token } }),
        400,
        'ERR_PASSWORD_REQUIRED',
      )
      const verified = await t.request({
        method: 'POST',
        url: '/verify',
        payload: { token, password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200, verified.body)
      await t.login(newEmail)
    })
  })
}

describe('email change links follow linkPaths', () => {
  let t: TestApp
  before(async () => {
    t = await buildApp({
      backend: 'session',
      linkPaths: { confirmEmail: '/account/confirm-email', cancelEmail: '/account/cancel-email' },
    })
  })
  after(async () => {
    await t?.destroy()
  })

  it('mails the confirm and cancel links under the configured paths', async () => {
    const { email } = await t.createUser()
    const headers = await t.login(email)
    const newEmail = uniqueEmail('paths')
    const res = await t.request({
      method: 'PATCH',
      url: '/users/me',
      headers,
      payload: { email: newEmail, currentPassword: PASSWORD },
    })
    assert.equal(res.statusCode, 200, res.body)
    assert.match(
      (await t.mailsTo(newEmail))[0]!.text,
      /https:\/\/app\.example\.com\/account\/confirm-email#token=/,
    )
    assert.match(
      (await t.mailsTo(email))[0]!.text,
      /https:\/\/app\.example\.com\/account\/cancel-email#token=/,
    )
  })
})
