/** Two-factor authentication over HTTP on SQLite; see two-factor.ts. */
import { testDialects } from '../helpers/databases.js'
import { twoFactorSuite } from './two-factor.js'

twoFactorSuite(testDialects.find((d) => d.name === 'sqlite')!)
