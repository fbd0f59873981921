/** Runs the passkey contract on mysql, with UUIDv7 and with integer ids. */
import { testDialects } from '../helpers/databases.js'
import { passkeysContract } from './passkeys.contract.js'

for (const dialect of testDialects.filter((d) => d.name === 'mysql')) {
  for (const idType of ['uuid', 'integer'] as const) passkeysContract(dialect, idType)
}
