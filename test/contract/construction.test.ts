/**
 * Misuse of the service is refused at construction with a TypeError that says how to fix it, as jose
 * separates bad calls from bad tokens.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BaseUserService, PasswordPolicy } from '../../src/index.js'
import {
  createKyselyRepositories,
  type KyselyRepositories,
  migrateToLatest,
} from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { SECRET } from './user-service.contract.js'

describe('BaseUserService construction', () => {
  let tdb: TestDatabase<unknown>
  let repos: KyselyRepositories
  before(async () => {
    tdb = await createTestDatabase('sqlite')
    await migrateToLatest(tdb.db)
    repos = createKyselyRepositories(tdb.db)
  })
  after(async () => {
    await tdb?.destroy()
  })

  const refuses = (options: Record<string, unknown>, message: RegExp) =>
    assert.throws(
      () => new BaseUserService({ secret: SECRET, userRepository: repos.userRepository, ...options }),
      (err: unknown) => err instanceof TypeError && message.test(err.message),
    )

  it('refuses a secret shorter than 32 bytes, or none, and says how to make one', () => {
    refuses({ secret: 'x'.repeat(31) }, /at least 32 bytes.*randomBytes/s)
    refuses({ secret: undefined }, /`secret` is required/)
    refuses({ secret: [] }, /`secret` is required/)
    refuses({ secret: [SECRET, 'short'] }, /at least 32 bytes/)
  })
  it('counts bytes, not characters', () => {
    // 16 two-byte characters are 32 bytes: enough.
    assert.ok(new BaseUserService({ secret: 'é'.repeat(16), userRepository: repos.userRepository }))
  })
  it('refuses an unknown hash scheme, naming the known ones', () => {
    refuses({ hashSchemes: ['md5'] }, /argon2id.*scrypt.*bcrypt/s)
    refuses({ hashSchemes: [] }, /scheme/)
  })
  it('refuses default roles without a role repository', () => {
    refuses({ defaultRoles: ['member'] }, /roleRepository/)
  })
  it('refuses role methods without a role repository', async () => {
    const service = new BaseUserService({ secret: SECRET, userRepository: repos.userRepository })
    await assert.rejects(
      service.addRole({ name: 'admin' }),
      (err: unknown) => err instanceof TypeError && /roleRepository/.test(err.message),
    )
  })
  it('refuses a missing user repository, a password minimum below 8, and bad token lifetimes', () => {
    assert.throws(() => new BaseUserService({ secret: SECRET } as never), /userRepository/)
    refuses({ passwordPolicy: { minLength: 7 } }, /8/)
    refuses({ tokenLifetimes: { passwordReset: 0 } }, /passwordReset/)
    refuses({ tokenLifetimes: { verification: 10 * 86_400 } }, /verification/)
  })
  it('refuses a mailer without a base URL for its links', () => {
    refuses({ mailer: { send: async () => {} } }, /baseUrl/)
    refuses({ mailer: { send: async () => {} }, mail: { baseUrl: 'javascript:alert(1)' } }, /http/)
  })
  it('accepts a stronger password policy', () => {
    const service = new BaseUserService({
      secret: SECRET,
      userRepository: repos.userRepository,
      passwordPolicy: { minLength: 15 },
    })
    assert.ok(service.passwordPolicy instanceof PasswordPolicy)
    assert.throws(() => service.passwordPolicy.check('fourteen chars'), { reason: 'too_short' })
  })
})
