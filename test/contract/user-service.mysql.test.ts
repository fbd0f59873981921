/**
 * Runs the user-service contract on mysql, with UUIDv7 and with integer ids. One file per database, so the
 * databases run in parallel and each file has the runner's whole per-file time budget.
 */
import { testDialects } from '../helpers/databases.js'
import { userServiceContract } from './user-service.contract.js'

for (const dialect of testDialects.filter((d) => d.name === 'mysql')) {
  for (const idType of ['uuid', 'integer'] as const) userServiceContract(dialect, idType)
}
