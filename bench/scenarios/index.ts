/**
 * Every scenario of the benchmark, in order.
 *
 * @module
 */
import type { Scenario } from '../lib/scenario.js'
import { sessionScenario } from './1-session.js'
import { jwtScenario } from './2-jwt.js'
import { loginScenario } from './3-login.js'
import { stormScenario } from './4-storm.js'
import { tableSizeScenario } from './5-table-size.js'
import { redisScenario } from './6-redis.js'
import { instancesScenario } from './7-instances.js'

export { baselineSeries } from './baselines.js'

export const SCENARIOS: readonly Scenario[] = [
  sessionScenario,
  jwtScenario,
  loginScenario,
  stormScenario,
  tableSizeScenario,
  redisScenario,
  instancesScenario,
]
