/**
 * Runs the conformance suite on the in-memory ports of memory-ports.ts, the variant chosen by
 * `CONFORMANCE_VARIANT` (`correct` or `broken`). Run as its own `node --test` process by
 * conformance-suite.test.ts, which reads which tests failed.
 */
import type { UserRepository } from '../../src/index.js'
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { describeRepositoryConformance } from '../../src/testing/index.js'
import { createTestDatabase } from '../helpers/databases.js'
import { brokenMemoryPorts, memoryPorts } from './memory-ports.js'

const broken = process.env.CONFORMANCE_VARIANT === 'broken'

/** A compare-and-set done as a check in the application and then a write: two steps, so not one winner. */
function checkThenWrite(users: UserRepository): UserRepository {
  return {
    idType: users.idType,
    userFields: users.userFields,
    insert: (record) => users.insert(record),
    findById: (id) => users.findById(id),
    findOne: (filters) => users.findOne(filters),
    list: (query) => users.list(query),
    delete: (id) => users.delete(id),
    async update(id, patch, options = {}) {
      const current = await users.findById(id)
      if (!current) return null
      for (const [field, value] of Object.entries(options.expect ?? {})) {
        if (value !== undefined && (current as unknown as Record<string, unknown>)[field] !== value)
          return null
      }
      await new Promise((resolve) => setImmediate(resolve))
      return users.update(id, patch)
    },
  }
}

describeRepositoryConformance({
  name: `${broken ? 'broken' : 'correct'} storage`,
  ports: broken
    ? [
        'userRepository',
        'sessionRepository',
        'tokenDenylist',
        'loginAttemptStore',
        'mailCapStore',
        'adminLock',
      ]
    : ['sessionRepository', 'tokenDenylist', 'loginAttemptStore', 'mailCapStore', 'adminLock'],
  create: async ({ clock }) => {
    if (!broken) return { repos: memoryPorts() }
    const database = await createTestDatabase('sqlite')
    await migrateToLatest(database.db)
    const { userRepository } = createKyselyRepositories(database.db, { now: () => clock.now() })
    return {
      repos: { ...brokenMemoryPorts(), userRepository: checkThenWrite(userRepository) },
      cleanup: () => database.destroy(),
    }
  },
})
