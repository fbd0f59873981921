/**
 * The baselines, measured in the same run as what they bound: a bare Fastify route answering the same
 * body as `GET /users/me` (the limit of scenarios 1, 2 and 6) and the raw argon2id rate (the limit of
 * scenarios 3 and 6).
 *
 * @module
 */
import { redisNote, state } from '../lib/config.js'
import { checkBody } from '../lib/prepare.js'
import { getMe, type Series } from '../lib/series.js'

/** The baseline series; each runs when one of the scenarios that need it does. */
export function baselineSeries(): Series[] {
  return [
    {
      kind: 'server',
      id: 'bare',
      scenarios: redisNote === null ? [1, 2, 6] : [1, 2],
      entry: 'servers/bare',
      ours: false,
      postgres: false,
      env: () => ({}),
      prepare: async (base) => {
        state.bodyBytes.bare = await checkBody(base, '/users/me', {})
        return {}
      },
      measures: [getMe('bare Fastify route, same body (the limit)')],
    },
    { kind: 'hash', id: 'hash', scenarios: redisNote === null ? [3, 6] : [3] },
  ]
}
