/** Runs the email-change contract on every database, with UUIDv7 and with integer ids. */
import { testDialects } from '../helpers/databases.js'
import { emailChangeContract } from './email-change.contract.js'

for (const dialect of testDialects) {
  for (const idType of ['uuid', 'integer'] as const) emailChangeContract(dialect, idType)
}
