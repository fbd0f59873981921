/** Step-up of the sensitive changes on sqlite; see step-up-changes.ts. */
import { testDialects } from '../helpers/databases.js'
import { stepUpChangesSuite } from './step-up-changes.js'

stepUpChangesSuite(testDialects.find((d) => d.name === 'sqlite')!)
