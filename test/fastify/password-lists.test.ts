/**
 * Common passwords and the user's own words, over HTTP. Before, the policy checked only the length, so
 * `password1`, `qwertyuiop` or a password made of the user's own email were accepted on registration,
 * reset, change and admin-set. Now each is a 400 `ERR_PASSWORD_POLICY` that changes nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertProblem, buildApp, json, PASSWORD, type TestApp, uniqueEmail } from './build-app.js'

describe('common passwords and context words over HTTP', () => {
  let t: TestApp

  before(async () => {
    t = await buildApp({
      backend: 'jwt',
      requireVerificationOnRegistration: false,
      appName: 'Acme Portal',
      passwordPolicy: { contextWords: ['widgetco'] },
    })
  })
  after(async () => {
    await t?.destroy()
  })

  const register = (email: string, password: string) =>
    t.request({ method: 'POST', url: '/register', payload: { email, password } })

  it('refuses a common password on registration and creates nothing', async () => {
    for (const password of ['password1', 'Qwertyuiop', 'iloveyou123', '12345678']) {
      const email = uniqueEmail('common')
      const problem = assertProblem(await register(email, password), 400, 'ERR_PASSWORD_POLICY')
      assert.match(problem.detail, /common/)
      assert.equal(await t.app.users.getUserBy({ email }), null)
    }
  })

  it("refuses the user's email local part, the app name and the configured words", async () => {
    const email = `grace.hopper.${Date.now().toString(36)}@example.com`
    for (const password of [
      `${email.split('@')[0]}!`,
      'I like Hopper a lot',
      'acme portal 2024!',
      'my WidgetCo pass',
    ]) {
      const problem = assertProblem(await register(email, password), 400, 'ERR_PASSWORD_POLICY')
      assert.match(problem.detail, /email address|username|name of this service/)
    }
    assert.equal(await t.app.users.getUserBy({ email }), null)
    assert.equal((await register(email, PASSWORD)).statusCode, 201)
  })

  it('refuses them on password change, reset and admin-set too', async () => {
    const { email, user } = await t.createUser()
    const headers = await t.login(email)
    assertProblem(
      await t.request({
        method: 'POST',
        url: '/users/me/password',
        headers,
        payload: { currentPassword: PASSWORD, newPassword: 'sunshine1' },
      }),
      400,
      'ERR_PASSWORD_POLICY',
    )
    await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
    const token = await t.tokenFor(email, /reset/i)
    assertProblem(
      await t.request({ method: 'POST', url: '/reset-password', payload: { token, password: 'Football1' } }),
      400,
      'ERR_PASSWORD_POLICY',
    )
    const admin = await t.admin()
    assertProblem(
      await t.request({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: admin.headers,
        payload: { password: 'letmein123' },
      }),
      400,
      'ERR_PASSWORD_POLICY',
    )
    // Nothing changed: the original password still logs in.
    const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    assert.equal(res.statusCode, 200, JSON.stringify(json(res)))
  })
})
