/**
 * The timing suite of the routes that must not tell a known address from an unknown one: `POST /forgot-password`
 * and `POST /verify/request`. Regression test of a defect where a known address answered ~0.15 ms slower
 * (its lookup, token and mail ran before the answer), which a few thousand requests measured with
 * Mann-Whitney z = 15-25.
 *
 * Statistical, not a timed unit test: thousands of requests to a known and to an unknown address,
 * interleaved in random order (so load, GC and background work fall on both alike), compared with a
 * Mann-Whitney U test (rank-based: robust to the long tails of a loaded machine). The threshold |z| > 5 is
 * generous: a real difference of that size gives z of 15 and more, while two samples of one distribution
 * exceed 5 about once in three million runs. One file per database (`enumeration-timing-*.test.ts`), so
 * that each stays well inside the per-file time limit on a loaded machine.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { TestDialect } from '../helpers/databases.js'
import { buildApp, type TestApp, uniqueEmail } from './build-app.js'

const SAMPLES_PER_GROUP = 1000
const WARM_UP = 100
const Z_LIMIT = 5

/** The z statistic of the Mann-Whitney U test of `a` against `b` (normal approximation, tie-corrected). */
export function mannWhitneyZ(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v)
  const ranks = new Array<number>(all.length)
  let tieTerm = 0
  for (let i = 0; i < all.length; ) {
    let j = i
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) ranks[k] = rank
    const t = j - i + 1
    tieTerm += t ** 3 - t
    i = j + 1
  }
  let rankSumA = 0
  for (let i = 0; i < all.length; i++) if (all[i]!.g === 0) rankSumA += ranks[i]!
  const n1 = a.length
  const n2 = b.length
  const n = n1 + n2
  const u = rankSumA - (n1 * (n1 + 1)) / 2
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))))
  return (u - (n1 * n2) / 2) / sigma
}

/** Times `SAMPLES_PER_GROUP` requests of each address, interleaved in random order; returns z. */
async function timingZ(t: TestApp, url: string, known: string, unknown: string): Promise<number> {
  const order = [...Array(SAMPLES_PER_GROUP).fill(known), ...Array(SAMPLES_PER_GROUP).fill(unknown)]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  const times: Record<string, number[]> = { [known]: [], [unknown]: [] }
  for (let i = 0; i < WARM_UP; i++) {
    await t.app.inject({ method: 'POST', url, payload: { email: i % 2 ? known : unknown } })
  }
  await t.app.users.settled()
  for (let i = 0; i < order.length; i++) {
    const email = order[i]!
    const start = process.hrtime.bigint()
    const res = await t.app.inject({ method: 'POST', url, payload: { email } })
    const elapsed = Number(process.hrtime.bigint() - start)
    assert.equal(res.statusCode, 202)
    times[email]!.push(elapsed)
    // Let the background work drain now and then, alike for both groups, so no backlog builds up.
    if (i % 100 === 99) await t.app.users.settled()
  }
  await t.app.users.settled()
  return mannWhitneyZ(times[known]!, times[unknown]!)
}

/** The timing suite on one database, with a check of the statistic itself. */
export function enumerationTimingSuite(dialect: TestDialect): void {
  describe('the Mann-Whitney z of the timing tests', () => {
    it('is near 0 for one distribution and large for two', () => {
      const same = Array.from({ length: 500 }, (_, i) => i % 50)
      assert.ok(Math.abs(mannWhitneyZ(same, [...same].reverse())) < 0.01)
      const slower = same.map((v) => v + 10)
      assert.ok(mannWhitneyZ(slower, same) > 5)
      assert.ok(mannWhitneyZ(same, slower) < -5)
    })
  })

  describe(`known and unknown addresses answer alike in time on ${dialect.name}`, {
    skip: dialect.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      t = await buildApp({ backend: 'session', dialect: dialect.name })
    })
    after(async () => {
      await t?.destroy()
    })

    it('POST /forgot-password: no measurable difference (Mann-Whitney |z| < 5)', async (ctx) => {
      const { email } = await t.createUser()
      const z = await timingZ(t, '/forgot-password', email, uniqueEmail('nobody'))
      ctx.diagnostic(`z = ${z.toFixed(2)}`)
      assert.ok(Math.abs(z) < Z_LIMIT, `known vs unknown address: z = ${z.toFixed(2)}`)
    })

    it('POST /verify/request: no measurable difference (Mann-Whitney |z| < 5)', async (ctx) => {
      const { email } = await t.createUser({ verified: false })
      const z = await timingZ(t, '/verify/request', email, uniqueEmail('nobody'))
      ctx.diagnostic(`z = ${z.toFixed(2)}`)
      assert.ok(Math.abs(z) < Z_LIMIT, `known unverified vs unknown address: z = ${z.toFixed(2)}`)
    })
  })
}
