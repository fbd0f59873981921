/** Sessions over HTTP on mysql; see sessions.ts. */
import { testDialects } from '../helpers/databases.js'
import { sessionsSuite } from './sessions.js'

sessionsSuite(testDialects.find((d) => d.name === 'mysql')!)
