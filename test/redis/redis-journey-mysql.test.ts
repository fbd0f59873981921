/** The plugin with `redis` on MariaDB: see redis-journey.ts. */
import { testDialects } from '../helpers/databases.js'
import { redisJourney } from './redis-journey.js'

redisJourney('mysql', testDialects.find((d) => d.name === 'mysql')?.skip ?? true)
