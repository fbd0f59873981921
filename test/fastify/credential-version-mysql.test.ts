/** The credential version over HTTP on MariaDB; see credential-version.ts. */
import { testDialects } from '../helpers/databases.js'
import { credentialVersionSuite } from './credential-version.js'

credentialVersionSuite(testDialects.find((d) => d.name === 'mysql')!)
