/** Runs the user-service contract on MySQL/MariaDB, with UUIDv7 and with integer ids; see user-service.test.ts. */
import { testDialects } from '../helpers/databases.js'
import { userServiceContract } from './user-service.contract.js'

const dialect = testDialects.find((d) => d.name === 'mysql')!
for (const idType of ['uuid', 'integer'] as const) userServiceContract(dialect, idType)
