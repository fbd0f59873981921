/**
 * Runs the user-service contract on SQLite, with UUIDv7 and with integer ids. PostgreSQL and MariaDB run
 * it from their own files (`user-service-postgres.test.ts`, `user-service-mysql.test.ts`), so that each
 * file stays inside the per-file time limit on a loaded machine.
 */
import { testDialects } from '../helpers/databases.js'
import { userServiceContract } from './user-service.contract.js'

const dialect = testDialects.find((d) => d.name === 'sqlite')!
for (const idType of ['uuid', 'integer'] as const) userServiceContract(dialect, idType)
