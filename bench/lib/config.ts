/**
 * The benchmark's configuration, read once from the environment (see the list in `bench/run.ts`), and
 * the run-wide state every scenario adds to: samples, errors, skipped runs, seeding times, and the log.
 *
 * @module
 */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import type { SeedResult } from '../seed.js'
import type { LoadResult } from './load.js'
import { ROOT } from './processes.js'
import { fmt, type Sample } from './report.js'

/** The highest scenario number. */
export const LAST_SCENARIO = 7

function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}`)
  return value
}

function scenariosEnv(): Set<number> {
  const raw = process.env.BENCH_SCENARIOS
  const all = Array.from({ length: LAST_SCENARIO }, (_, i) => i + 1)
  if (!raw) return new Set(all)
  const list = raw.split(',').map((s) => Number(s.trim()))
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > LAST_SCENARIO))
    throw new Error(`BENCH_SCENARIOS must list scenario numbers from 1 to ${LAST_SCENARIO}, e.g. 1,2`)
  return new Set(list)
}

/** `BENCH_QUICK=1`: one run of 1 s after 0.5 s of warm-up, 100,000 users for scenario 5: a correctness pass. */
const quick = process.env.BENCH_QUICK === '1'

export const config = {
  quick,
  runs: Math.round(numberEnv('BENCH_RUNS', quick ? 1 : 3, 1)),
  durationSeconds: numberEnv('BENCH_DURATION', quick ? 1 : 3, 1),
  warmupSeconds: numberEnv('BENCH_WARMUP', quick ? 0.5 : 1, 0),
  /**
   * Seconds of warm-up load before each hashing-route measurement (`BENCH_HASH_WARMUP`), then two awaited
   * requests per connection. At ~130 logins/s the login path's JavaScript needs about a thousand logins
   * before V8 optimises it (event-loop CPU per login falls by half): without this, the measurement would be
   * of a server that just started, not of one that has been serving.
   */
  hashWarmupSeconds: numberEnv('BENCH_HASH_WARMUP', quick ? 0 : 5, 0),
  budgetSeconds: numberEnv('BENCH_BUDGET_SECONDS', 1200, 30),
  scenarios: scenariosEnv(),
  smallUsers: 1000,
  largeUsers: Math.round(numberEnv('BENCH_LARGE_USERS', quick ? 100_000 : 1_000_000, 1000)),
  postgres: Boolean(process.env.FASTIFY_USERS_BENCH_POSTGRES_URL),
  redisUrl: process.env.FASTIFY_USERS_BENCH_REDIS_URL || null,
  /** `BENCH_AUTH_CACHE=off`: servers run without the authentication cache (for comparison). */
  authCache: process.env.BENCH_AUTH_CACHE !== 'off',
  runner: (process.env.BENCH_RUNNER === 'tsx' ? 'tsx' : 'bundle') as 'tsx' | 'bundle',
  /**
   * Connections per load: 50 for the cheap GETs (the load the issue's reference numbers used); 16 for
   * the hashing routes, enough to keep every hashing slot busy (the queue runs 1 at once on 2 cores, 3 on 4 or more) while
   * latency stays far from autocannon's 10 s timeout even at better-auth's ~11 sign-ups/s; during the
   * storm, 32 login connections against a 10-connection probe.
   */
  connections: { get: 50, hashing: 16, stormLogin: 32, stormProbe: 10 },
}

/** The peak RSS every fastify-users server process must stay under, in MiB. */
export const MIB_TARGET = 150

/** Whether the `ioredis` package the plugin's `redis` option needs can be loaded here. */
async function ioredisLoads(): Promise<boolean> {
  try {
    const { Redis } = await import('ioredis')
    return typeof Redis === 'function'
  } catch {
    return false
  }
}

/**
 * Why the Redis scenario does not run, or null when it does. That the servers then really keep their
 * sessions in Redis is checked on every run, after the login (see `checkRedisSession`).
 */
export const redisNote: string | null = !config.redisUrl
  ? 'FASTIFY_USERS_BENCH_REDIS_URL not set'
  : !config.postgres
    ? 'needs FASTIFY_USERS_BENCH_POSTGRES_URL too'
    : !(await ioredisLoads())
      ? 'the `ioredis` package is not installed'
      : null

/** Scenario 7's single-instance rows: the Redis series when scenario 6 runs, else PostgreSQL's. */
export const oneInstance = redisNote === null ? 'redis' : 'pg'

const started = performance.now()

/** Everything a run collects; reported at the end. */
export const state = {
  startedAt: new Date(),
  samples: new Map<string, Sample[]>(),
  /** Peak RSS (VmHWM, MiB) of every server process of a series, read just before it is stopped. */
  serverPeaks: new Map<string, number[]>(),
  errors: [] as Array<{ series: string; run: number; error: string }>,
  skipped: [] as Array<{ series: string; run: number; reason: string }>,
  seeding: [] as Array<{ database: string; users: number } & SeedResult>,
  bodyBytes: {} as Record<string, number>,
  hashRuns: [] as unknown[],
  aborted: false,
  postgresNote: (config.postgres ? null : 'FASTIFY_USERS_BENCH_POSTGRES_URL not set') as string | null,
  tmp: mkdtempSync(join(os.tmpdir(), 'fastify-users-bench-')),
  resultsDir: join(ROOT, 'bench', 'results'),
}

/** Seconds since the benchmark started. */
export const elapsed = () => (performance.now() - started) / 1000

/** A progress line on stderr. */
export function log(message: string): void {
  process.stderr.write(`[${elapsed().toFixed(0).padStart(4)} s] ${message}\n`)
}

/** Records one measurement of a row, and logs it. */
export function addSample(
  rowId: string,
  run: number,
  result: LoadResult,
  rssMiB: number,
  loadAverage: number,
) {
  const list = state.samples.get(rowId) ?? []
  list.push({
    run,
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    rssMiB,
    cpuUsPerRequest: result.cpuUsPerRequest,
    ok: result.ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    loadAverage,
  })
  state.samples.set(rowId, list)
  const failed = result.non2xx + result.errors + result.timeouts
  log(
    `  ${rowId}: ${fmt(result.rps)} req/s, p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms, ` +
      `CPU ${fmt(result.cpuUsPerRequest)} µs/req, peak RSS ${fmt(rssMiB)} MiB${failed > 0 ? `, ${failed} FAILED ${JSON.stringify(result.statusCodes)}` : ''}`,
  )
}
