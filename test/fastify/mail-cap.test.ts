/**
 * The cap on mails to one address. Before it, 200 `POST /forgot-password` for one address put 200 reset
 * mails in one inbox. Now at most 5 of each kind go out per hour (the answer stays 202, so the cap tells
 * nothing about the address), counted in the database on every dialect, exactly under concurrency, and
 * also for the application's own calls to the service.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BaseUserService } from '../../src/core/user-service.js'
import type { MailMessage } from '../../src/mail/mailer.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, testDialects } from '../helpers/databases.js'
import { buildApp, ManualClock, SECRET, type TestApp, uniqueEmail } from './build-app.js'

for (const dialect of testDialects) {
  describe(`mail cap on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestApp
    const forgot = (email: string) =>
      t.request({ method: 'POST', url: '/forgot-password', payload: { email } })
    const resets = async (email: string) => (await t.mailsTo(email)).filter((m) => /reset/i.test(m.subject))

    before(async () => {
      t = await buildApp({ backend: 'session', dialect: dialect.name, rateLimit: false })
    })
    after(async () => {
      await t?.destroy()
    })

    it('sends at most 5 reset mails an hour to one address; every answer stays 202', async () => {
      const { email } = await t.createUser()
      for (let i = 0; i < 12; i++) assert.equal((await forgot(email)).statusCode, 202)
      assert.equal((await resets(email)).length, 5)
      // Another kind of mail to the same address has its own count.
      await t.app.users.initiateVerification(
        await t.app.users.getUser((await t.app.users.getUserBy({ email }))!.id),
      )
      assert.equal((await t.mailsTo(email)).filter((m) => /verif/i.test(m.subject)).length, 1)
      // An hour later the window starts again.
      t.clock.advance(3601)
      assert.equal((await forgot(email)).statusCode, 202)
      assert.equal((await resets(email)).length, 6)
    })

    it('counts exactly under concurrency: 20 parallel requests, 5 mails', async () => {
      const { email } = await t.createUser()
      const answers = await Promise.all(Array.from({ length: 20 }, () => forgot(email)))
      assert.deepEqual(new Set(answers.map((r) => r.statusCode)), new Set([202]))
      assert.equal((await resets(email)).length, 5)
    })

    it('caps the application code too (the service, not the route)', async () => {
      const { email } = await t.createUser()
      for (let i = 0; i < 8; i++) await t.app.users.initiatePasswordReset(email)
      assert.equal((await resets(email)).length, 5)
    })
  })
}

describe('mail cap: options and the security event', () => {
  it('logs mail_capped without the address, honours max and windowSeconds, and can be turned off', async () => {
    const database = await createTestDatabase('sqlite')
    try {
      await migrateToLatest(database.db)
      const clock = new ManualClock()
      const mails: MailMessage[] = []
      const events: Record<string, unknown>[] = []
      const logger = { info() {}, error() {}, warn: (obj: Record<string, unknown>) => events.push(obj) }
      const make = (mailCap?: { max?: number; windowSeconds?: number } | false) =>
        new BaseUserService({
          secret: SECRET,
          ...createKyselyRepositories(database.db),
          mailer: { send: async (m) => void mails.push(m) },
          mail: { baseUrl: 'https://app.example.com' },
          clock,
          logger,
          mailCap,
        })
      const service = make({ max: 2, windowSeconds: 60 })
      const email = uniqueEmail('capped')
      await service.addUser({ email, password: 'correct horse battery staple' } as never, { verify: true })
      for (let i = 0; i < 4; i++) await service.initiatePasswordReset(email)
      await service.settled()
      assert.equal(mails.length, 2)
      const capped = events.filter((e) => e.event === 'mail_capped')
      assert.equal(capped.length, 2)
      assert.equal(capped[0]?.kind, 'password-reset')
      assert.doesNotMatch(JSON.stringify(capped), /@/)
      clock.advance(61)
      await service.initiatePasswordReset(email)
      await service.settled()
      assert.equal(mails.length, 3)
      const off = make(false)
      for (let i = 0; i < 4; i++) await off.initiatePasswordReset(email)
      await off.settled()
      assert.equal(mails.length, 7)
      assert.throws(() => make({ max: 0 }), TypeError)
      assert.throws(() => make({ windowSeconds: 1 }), TypeError)
    } finally {
      await database.destroy()
    }
  })
})
