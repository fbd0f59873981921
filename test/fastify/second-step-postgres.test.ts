/** The login's second step over HTTP on PostgreSQL; see second-step.ts. */
import { testDialects } from '../helpers/databases.js'
import { secondStepSuite } from './second-step.js'

secondStepSuite(testDialects.find((d) => d.name === 'postgres')!)
