/**
 * Runs the public conformance suite (`fastify-users/testing`) against the Kysely repositories on one
 * dialect, with UUIDv7 and with integer ids, each on a fresh database with a custom column
 * (`displayName`), and once more with integer ids under prefixed table names (`tables: { prefix }`).
 * `conformance-<dialect>.test.ts` call it, one file per database so they run in parallel.
 */
import { createKyselyRepositories, migrateToLatest } from '../../src/persistence/kysely/index.js'
import { resolveTableNames, type TableNamesOption } from '../../src/persistence/kysely/table-names.js'
import { describeRepositoryConformance } from '../../src/testing/index.js'
import { createTestDatabase, type TestDialect } from '../helpers/databases.js'

const LABEL = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB/MySQL' } as const

export function kyselyConformance(dialect: TestDialect): void {
  const variants: { idType: 'uuid' | 'integer'; tables?: TableNamesOption }[] = [
    { idType: 'uuid' },
    { idType: 'integer' },
    { idType: 'integer', tables: { prefix: 'cf_' } },
  ]
  for (const { idType, tables } of variants) {
    const users = resolveTableNames(tables).users
    describeRepositoryConformance({
      name: `Kysely repositories on ${LABEL[dialect.name]} (${idType} ids${tables ? `, tables ${users}...` : ''})`,
      skip: dialect.skip,
      create: async ({ clock }) => {
        // More connections than the suite's concurrent writers, so races really run in parallel.
        const database = await createTestDatabase(dialect.name, { poolSize: 10 })
        try {
          await migrateToLatest(database.db, {
            idType,
            tables,
            migrations: {
              '0001-display-name': {
                up: (db) => db.schema.alterTable(users).addColumn('display_name', 'varchar(100)').execute(),
              },
            },
          })
        } catch (error) {
          await database.destroy()
          throw error
        }
        const repos = createKyselyRepositories(database.db, {
          idType,
          tables,
          userFields: { displayName: { type: ['string', 'null'], maxLength: 100 } },
          now: () => clock.now(),
        })
        return { repos, cleanup: () => database.destroy() }
      },
    })
  }
}
