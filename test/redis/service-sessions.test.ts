/**
 * The service ends a user's sessions itself, whatever keeps them: here the users are in SQLite and the
 * sessions in Redis, where no foreign key cascades, so only the service's own rule can end them. Called
 * as application code (and the CLI) calls it, without HTTP.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { BaseUserService } from '../../src/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { createRedisStores, type RedisStores } from '../../src/persistence/redis/index.js'
import { PASSWORD, SECRET } from '../fastify/build-app.js'
import { createTestDatabase, redisTestUrl, type TestDatabase, testRedis } from '../helpers/databases.js'
import { keysUnder, sessionRecord } from './keys.js'

describe('sessions in Redis, users in SQL: the service ends them', { skip: testRedis.skip }, () => {
  const prefix = `fu-test-${randomBytes(6).toString('hex')}:`
  let database: TestDatabase<unknown>
  let client: Redis
  let stores: RedisStores
  let service: BaseUserService
  let n = 0
  const email = () => `user${++n}.${Date.now()}@example.com`
  const sessionOf = async (userId: string) => {
    const id = randomBytes(32).toString('hex')
    await stores.sessionRepository.create(sessionRecord(id, userId))
    assert.ok(await stores.sessionRepository.find(id), 'the session exists before the change')
    return id
  }

  before(async () => {
    database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    const repos = createKyselyRepositories(database.db)
    client = new Redis(redisTestUrl() as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await client.connect()
    stores = createRedisStores(client, { prefix })
    service = new BaseUserService({
      secret: SECRET,
      userRepository: repos.userRepository,
      roleRepository: repos.roleRepository,
      ...stores,
    })
  })
  after(async () => {
    if (client) {
      const keys = await keysUnder(client, prefix)
      if (keys.length > 0) await client.del(...keys)
      await client.quit()
    }
    await database?.destroy()
  })

  it("deleteUser() ends every session of the deleted user, and no one else's", async () => {
    const doomed = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
    const other = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
    const first = await sessionOf(String(doomed.id))
    const second = await sessionOf(String(doomed.id))
    const kept = await sessionOf(String(other.id))
    await service.deleteUser(doomed.id)
    assert.equal(await stores.sessionRepository.find(first), null)
    assert.equal(await stores.sessionRepository.find(second), null)
    assert.deepEqual(await stores.sessionRepository.listForUser(doomed.id), [])
    assert.ok(await stores.sessionRepository.find(kept), "another user's session stays")
  })

  it('a deactivation through updateUser() ends the sessions too', async () => {
    const user = await service.addUser({ email: email(), password: PASSWORD }, { verify: true })
    const session = await sessionOf(String(user.id))
    await service.updateUser(user.id, { isActive: false })
    assert.equal(await stores.sessionRepository.find(session), null)
  })
})
