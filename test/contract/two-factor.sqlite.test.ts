/** Runs the two-factor contract on sqlite, with UUIDv7 and with integer ids (one file per database). */
import { testDialects } from '../helpers/databases.js'
import { twoFactorContract } from './two-factor.contract.js'

for (const dialect of testDialects.filter((d) => d.name === 'sqlite')) {
  for (const idType of ['uuid', 'integer'] as const) twoFactorContract(dialect, idType)
}
