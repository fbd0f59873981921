/** The plugin with `redis` on SQLite: see redis-journey.ts. */
import { redisJourney } from './redis-journey.js'

redisJourney('sqlite', false)
