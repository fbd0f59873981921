/** The plugin with `redis` on PostgreSQL: see redis-journey.ts. */
import { testDialects } from '../helpers/databases.js'
import { redisJourney } from './redis-journey.js'

redisJourney('postgres', testDialects.find((d) => d.name === 'postgres')?.skip ?? true)
