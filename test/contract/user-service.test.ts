/** Runs the user-service contract on every database, with UUIDv7 and with integer ids. */
import { testDialects } from '../helpers/databases.js'
import { userServiceContract } from './user-service.contract.js'

for (const dialect of testDialects) {
  for (const idType of ['uuid', 'integer'] as const) userServiceContract(dialect, idType)
}
