/**
 * Races over HTTP on every database: parallel uses of one reset token or one verification link, parallel
 * deletes, admin updates, password changes and logins. Each must give the answer a sequential client would
 * get: exactly one request wins a single-use action, the others get the answer of a late request; an
 * update answers the state it wrote itself; concurrency in flight is never taken for password guessing.
 * Regression tests of defects where 20 parallel resets all answered 204, verifications ran the hook each
 * time, admin updates answered another request's value, and parallel right logins were refused with 429.
 * One file per database (`races-*.test.ts`), so that each stays inside the per-file time limit under load.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import type { TestDialect } from '../helpers/databases.js'
import {
  assertProblem,
  buildApp,
  json,
  PASSWORD,
  type TestApp,
  type UserBody,
  uniqueEmail,
} from './build-app.js'

const PARALLEL = 20

/** The status codes of the answers, counted. */
function statuses(answers: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const res of answers) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1
  return counts
}

/** The race tests on one database. */
export function racesSuite(dialect: TestDialect): void {
  describe(`races on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    const parallel = (make: (i: number) => Promise<LightMyRequestResponse>) =>
      Promise.all(Array.from({ length: PARALLEL }, (_, i) => make(i)))
    const passwordChangedMails = async (address: string) =>
      (await t.mailsTo(address)).filter((m) => /password was changed/.test(m.subject)).length

    before(async () => {
      t = await buildApp({ backend: 'jwt', dialect: dialect.name })
    })
    after(async () => {
      await t?.destroy()
    })

    it(`one reset token posted ${PARALLEL} times at once: one 204, the rest 400 ERR_INVALID_TOKEN, one mail`, async () => {
      const { email } = await t.createUser({ verified: false })
      await t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
      const token = await t.tokenFor(email, /Reset/)
      const passwords = Array.from({ length: PARALLEL }, (_, i) => `reset in parallel ${i}`)
      const answers = await parallel((i) =>
        t.request({ method: 'POST', url: '/reset-password', payload: { token, password: passwords[i] } }),
      )
      assert.deepEqual(statuses(answers), { 204: 1, 400: PARALLEL - 1 })
      for (const res of answers) if (res.statusCode === 400) assertProblem(res, 400, 'ERR_INVALID_TOKEN')
      const winner = passwords[answers.findIndex((r) => r.statusCode === 204)]!
      const login = await t.request({ method: 'POST', url: '/login', payload: { email, password: winner } })
      assert.equal(login.statusCode, 200, 'the accepted password works, and the account is verified')
      assert.equal(await passwordChangedMails(email), 1)
    })

    it(`one verification link posted ${PARALLEL} times at once: one 200, the rest 400, the hook once`, async () => {
      const email = uniqueEmail('verify')
      const registered = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 202)
      const token = await t.tokenFor(email, /Verify/)
      let hookRuns = 0
      const hook = t.app.users.postVerificationHook.bind(t.app.users)
      t.app.users.postVerificationHook = async (user, request) => {
        hookRuns += 1
        return hook(user, request)
      }
      try {
        const answers = await parallel(() =>
          t.request({ method: 'POST', url: '/verify', payload: { token, password: PASSWORD } }),
        )
        assert.deepEqual(statuses(answers), { 200: 1, 400: PARALLEL - 1 })
        for (const res of answers) if (res.statusCode === 400) assertProblem(res, 400, 'ERR_INVALID_TOKEN')
        assert.equal(hookRuns, 1)
      } finally {
        t.app.users.postVerificationHook = hook
      }
    })

    it(`${PARALLEL} parallel deletes of one user: one 200, the rest 404`, async () => {
      const admin = await t.admin()
      const { user } = await t.createUser()
      const answers = await parallel(() =>
        t.request({ method: 'DELETE', url: `/users/${user.id}`, headers: admin.headers }),
      )
      assert.deepEqual(statuses(answers), { 200: 1, 404: PARALLEL - 1 })
      for (const res of answers) if (res.statusCode === 404) assertProblem(res, 404, 'ERR_NOT_FOUND')
    })

    it(`${PARALLEL} parallel admin updates of one user each answer the value they wrote`, async () => {
      const admin = await t.admin()
      const { user } = await t.createUser()
      const names = Array.from({ length: PARALLEL }, (_, i) => `parallel writer ${i}`)
      const answers = await parallel((i) =>
        t.request({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: admin.headers,
          payload: { displayName: names[i] },
        }),
      )
      assert.deepEqual(statuses(answers), { 200: PARALLEL })
      assert.deepEqual(
        answers.map((res) => json<UserBody>(res).displayName),
        names,
      )
    })

    it(`${PARALLEL} parallel password changes from one current password: exactly one applies`, async () => {
      const { email } = await t.createUser()
      const headers = await t.login(email)
      const passwords = Array.from({ length: PARALLEL }, (_, i) => `changed in parallel ${i}`)
      const answers = await parallel((i) =>
        t.request({
          method: 'POST',
          url: '/users/me/password',
          headers,
          payload: { currentPassword: PASSWORD, newPassword: passwords[i] },
        }),
      )
      const counts = statuses(answers)
      assert.equal(counts[204], 1, `one change accepted: ${JSON.stringify(counts)}`)
      // The losers proved a password that is no longer the current one: 403 as a moment later; or, when
      // the winner's change ended this credential before they were read, 401; or 429: once enough of them
      // have failed against the new hash (each is a wrong password by then, and counts), or, on a heavily
      // loaded machine, when the last of twenty meets the cap on attempts in flight.
      for (const res of answers) {
        if (res.statusCode === 204) continue
        if (res.statusCode === 401) assertProblem(res, 401)
        else if (res.statusCode === 429) assertProblem(res, 429, 'ERR_TOO_MANY_ATTEMPTS')
        else assertProblem(res, 403, 'ERR_WRONG_PASSWORD')
      }
      const winner = passwords[answers.findIndex((r) => r.statusCode === 204)]!
      const works = await t.request({ method: 'POST', url: '/login', payload: { email, password: winner } })
      assert.equal(works.statusCode, 200, 'the accepted password works')
      for (const other of [PASSWORD, ...passwords.filter((p) => p !== winner).slice(0, 3)]) {
        const res = await t.request({ method: 'POST', url: '/login', payload: { email, password: other } })
        assert.equal(res.statusCode, 401, 'no refused password works')
      }
      assert.equal(await passwordChangedMails(email), 1)
    })

    it(`${PARALLEL} parallel logins with the right password all answer 200, and leave nothing counted`, async () => {
      const { email } = await t.createUser()
      const answers = await parallel(() =>
        t.request({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } }),
      )
      assert.deepEqual(statuses(answers), { 200: PARALLEL })
      // The next five wrong guesses are still free: the burst raised no delay.
      for (let i = 0; i < 5; i++) {
        const res = await t.request({
          method: 'POST',
          url: '/login',
          payload: { email, password: 'wrong!!!!' },
        })
        assert.equal(res.statusCode, 401)
      }
    })

    it(`${PARALLEL} parallel wrong guesses still get only the free attempts, then 429`, async () => {
      const { email } = await t.createUser()
      const answers = await parallel(() =>
        t.request({ method: 'POST', url: '/login', payload: { email, password: 'wrong guess!!' } }),
      )
      assert.deepEqual(statuses(answers), { 401: 5, 429: PARALLEL - 5 })
      for (const res of answers) {
        if (res.statusCode !== 429) continue
        assertProblem(res, 429, 'ERR_TOO_MANY_ATTEMPTS')
        assert.equal(res.headers['retry-after'], '1', 'five failures earn the first delay, 1 s')
      }
    })
  })
}

/** The HTTP test of a taken username (SQLite: it is about the service's answer, not the database). */
export function takenUsernameSuite(): void {
  describe('registration of a pending user’s username over HTTP', () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({ backend: 'session', userAuthIdentifier: 'username' })
    })
    after(async () => {
      await t?.destroy()
    })

    it('answers 409 ERR_USER_EXISTS naming the username, mails nobody, and leaves the pending owner alone', async () => {
      const owner = uniqueEmail('owner')
      const username = `pending_${Date.now()}`
      const first = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email: owner, username, password: PASSWORD },
      })
      assert.equal(first.statusCode, 202)
      const link = await t.tokenFor(owner, /Verify/)
      const before = t.mails.length
      const intruder = uniqueEmail('intruder')
      const taken = await t.request({
        method: 'POST',
        url: '/register',
        payload: { email: intruder, username: username.toUpperCase(), password: 'intruder password 1' },
      })
      const problem = assertProblem(taken, 409, 'ERR_USER_EXISTS')
      assert.match(problem.detail, /username/)
      await t.app.users.settled()
      assert.equal(t.mails.length, before, 'no mail to the owner or the intruder')
      const verified = await t.request({
        method: 'POST',
        url: '/verify',
        payload: { token: link, password: PASSWORD },
      })
      assert.equal(verified.statusCode, 200, "the owner's link still works")
      const login = await t.request({
        method: 'POST',
        url: '/login',
        payload: { username, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, "the owner's password still works")
    })
  })
}
