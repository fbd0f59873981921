/** The credential version over HTTP on SQLite; see credential-version.ts. */
import { testDialects } from '../helpers/databases.js'
import { credentialVersionSuite } from './credential-version.js'

credentialVersionSuite(testDialects.find((d) => d.name === 'sqlite')!)
