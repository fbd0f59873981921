/** Runs the two-factor contract on mysql, with UUIDv7 and with integer ids (one file per database). */
import { testDialects } from '../helpers/databases.js'
import { twoFactorContract } from './two-factor.contract.js'

for (const dialect of testDialects.filter((d) => d.name === 'mysql')) {
  for (const idType of ['uuid', 'integer'] as const) twoFactorContract(dialect, idType)
}
