/**
 * `fastify-users disable-2fa`, run as a real process on SQLite: the user's second factors (TOTP, and
 * passkeys, which the login's second step accepts too) are removed, so their password alone logs in again;
 * another user's are left alone; an unknown user fails with exit code 1.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import { BaseUserService, TwoFactor } from '../../src/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { assertBuilt, runCliProcess } from './cli-process.js'

const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop'

describe('fastify-users disable-2fa', () => {
  let database: TestDatabase<unknown>
  before(async () => {
    assertBuilt()
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
  })
  after(() => database?.destroy())

  it("turns a user's TOTP off, and says when there was none", async () => {
    const repos = createKyselyRepositories(database.db)
    const service = new BaseUserService({ secret: SECRET, ...repos })
    const twoFactor = new TwoFactor({
      service,
      secret: SECRET,
      totpRepository: repos.totpRepository,
      stepUpStore: repos.stepUpStore,
    })
    const user = await service.addUser({ email: 'ada@example.com', password: 'correct horse battery staple' })
    const { secret } = await twoFactor.enrolTotp(user)
    const step = BigInt(Math.floor(Date.now() / 30_000))
    await twoFactor.confirmTotp(user, generateHOTP(decodeBase32IgnorePadding(secret), step, 6))
    assert.ok(await twoFactor.beginLogin(user))

    const env = { env: { DATABASE_URL: database.url } }
    const off = await runCliProcess(['disable-2fa', '--email', 'ADA@example.com'], env)
    assert.equal(off.code, 0, off.stderr)
    assert.match(off.stdout, /turned off for ada@example.com \(removed the authenticator app/)
    assert.equal(await twoFactor.beginLogin(user), null, 'the password alone logs in again')

    const again = await runCliProcess(['disable-2fa', '--email', 'ada@example.com'], env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /had no two-factor authentication/)

    const unknown = await runCliProcess(['disable-2fa', '--email', 'nobody@example.com'], env)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no user with the email/)
  })

  it("removes a user's passkeys too, and only theirs", async () => {
    const repos = createKyselyRepositories(database.db)
    const service = new BaseUserService({ secret: SECRET, ...repos })
    const passkey = (userId: unknown, n: number) => ({
      id: `${String(n).padStart(2, '0')}${'a'.repeat(62)}`,
      userId: userId as string,
      credentialId: `credential-${n}`,
      publicKey: 'cHVibGljIGtleQ',
      counter: 0,
      transports: ['internal'],
      name: `Passkey ${n}`,
      createdAt: Date.now(),
      lastUsedAt: null,
    })
    const grace = await service.addUser({
      email: 'grace@example.com',
      password: 'correct horse battery staple',
    })
    const other = await service.addUser({
      email: 'alan@example.com',
      password: 'correct horse battery staple',
    })
    await repos.passkeyRepository.insert(passkey(grace.id, 1))
    await repos.passkeyRepository.insert(passkey(grace.id, 2))
    await repos.passkeyRepository.insert(passkey(other.id, 3))

    const env = { env: { DATABASE_URL: database.url } }
    const off = await runCliProcess(['disable-2fa', '--email', 'grace@example.com'], env)
    assert.equal(off.code, 0, off.stderr)
    assert.match(off.stdout, /turned off for grace@example.com \(removed 2 passkeys\)/)
    assert.deepEqual(await repos.passkeyRepository.listForUser(grace.id), [])
    assert.equal((await repos.passkeyRepository.listForUser(other.id)).length, 1, "another user's stays")
  })
})
