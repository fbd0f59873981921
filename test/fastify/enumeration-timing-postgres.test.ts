/** Known and unknown addresses answer alike in time, on PostgreSQL; see enumeration-timing.ts. */
import { testDialects } from '../helpers/databases.js'
import { enumerationTimingSuite } from './enumeration-timing.js'

enumerationTimingSuite(testDialects.find((d) => d.name === 'postgres')!)
