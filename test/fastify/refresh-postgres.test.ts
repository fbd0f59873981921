/** Refresh tokens over HTTP on PostgreSQL; see refresh.ts. */
import { testDialects } from '../helpers/databases.js'
import { refreshSuite } from './refresh.js'

refreshSuite(testDialects.find((d) => d.name === 'postgres')!)
