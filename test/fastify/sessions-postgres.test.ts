/** Sessions over HTTP on postgres; see sessions.ts. */
import { testDialects } from '../helpers/databases.js'
import { sessionsSuite } from './sessions.js'

sessionsSuite(testDialects.find((d) => d.name === 'postgres')!)
