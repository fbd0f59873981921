/**
 * `npm run bench`: the cost of fastify-users per request, side by side with its limits (a bare Fastify
 * route, the raw argon2id rate) and with better-auth, measured the same way every time. This file is
 * the driver; each scenario is a module of `bench/scenarios/` (its series, tables and ratios).
 *
 * Each server runs in its own process (`bench/servers/*.ts`, bundled to plain JavaScript, started with
 * `PORT=0`); this process seeds its database directly through SQL, loads it over 127.0.0.1 with
 * autocannon, reads its peak RSS (`VmHWM`) after each measurement and before stopping it, and stops it.
 * Runs are interleaved: run 1 of every series, then run 2 of every series, ..., so slow drifts of a
 * shared machine spread over all series instead of landing on one. Each table shows min / median / max
 * over the runs; ratios are ratios of medians. Raw results go to `bench/results/<timestamp>.json`
 * (git-ignored) and the tables to `bench/results/latest.md`.
 *
 * Environment (all optional):
 * - `BENCH_SCENARIOS=1,2`: run only these scenarios (and the baselines they need). Default: 1 to 7.
 * - `BENCH_QUICK=1`: a correctness pass: 1 run of 1 s after 0.5 s of warm-up, 100,000 users in
 *   scenario 5's large tables (each overridable by the variables below).
 * - `BENCH_RUNS` (3), `BENCH_DURATION` (seconds per measurement, 3), `BENCH_WARMUP` (seconds, 1),
 *   `BENCH_HASH_WARMUP` (seconds of warm-up of the hashing routes, 5; 0 with `BENCH_QUICK`).
 * - `BENCH_BUDGET_SECONDS` (1200): runs that would end past it are skipped, and the whole benchmark is
 *   stopped 60 s past it whatever happens.
 * - `BENCH_LARGE_USERS` (1000000): the size of scenario 5's large tables.
 * - `BENCH_AUTH_CACHE=off`: the servers run without the authentication cache (it is on by default, as
 *   an application would run it); every login checks the cache is as the run says.
 * - `FASTIFY_USERS_BENCH_POSTGRES_URL`: an admin URL (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
 *   scenarios 1 to 3 and 5 then also run on PostgreSQL, in fresh databases created here and dropped after.
 * - `FASTIFY_USERS_BENCH_REDIS_URL`: a Redis URL; scenario 6 (PostgreSQL + Redis) runs with it, and the
 *   two-instance scenario 7 shares it. Scenarios 6 and 7 need PostgreSQL; they are skipped with a line
 *   saying why when it (or the `ioredis` package) is missing.
 * - `BENCH_RUNNER=tsx`: run the servers through tsx instead of bundling them (the loader adds ~24 MiB).
 * - `BENCH_HASH_CONCURRENCY=N`: for investigations, the servers' `passwordHashing.concurrency` and the
 *   raw hash rate's thread count (default: the library's `defaultHashConcurrency()`).
 * - `BENCH_CPU_PROF=<dir>`: every child process writes a V8 CPU profile there.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { addSample, config, elapsed, log, state } from './lib/config.js'
import { startInstances } from './lib/instances.js'
import type { LoadResult } from './lib/load.js'
import { dropPostgresDatabases, postgresDatabase } from './lib/postgres.js'
import { deleteRedisKeys } from './lib/prepare.js'
import {
  bundleEntries,
  killAllChildren,
  liveChildren,
  nodeFlags,
  type Runner,
  runOnce,
  startServer,
  tsxRunner,
} from './lib/processes.js'
import { writeResults } from './lib/results.js'
import { runRedisPrefix, type Series } from './lib/series.js'
import { baselineSeries, SCENARIOS } from './scenarios/index.js'

/** The series of the selected scenarios (and the baselines they need), each once, baselines first. */
function allSeries(): Series[] {
  const list = [...baselineSeries(), ...SCENARIOS.flatMap((s) => s.series())]
  return list.filter((s) => s.scenarios.some((n) => config.scenarios.has(n)))
}

function estimateSeconds(series: Series): number {
  const load = config.warmupSeconds + config.durationSeconds
  if (series.kind === 'hash') return 2 * config.durationSeconds + 2
  const loads = series.measures.reduce((n, m) => n + Object.keys(m.rows).length - (m.rows.storm ? 1 : 0), 0)
  // A hashing load (a POST, or a storm) warms up for longer; counted once per such measure.
  const hashing = series.measures.filter((m) => m.hashing).length
  return 3 + loads * load + hashing * config.hashWarmupSeconds
}

async function runHashRate(run: number, runner: Runner): Promise<void> {
  const loadAverage = os.loadavg()[0]!
  const result = await runOnce<{
    hashPerSecond: number
    verifyPerSecond: number
    hashCpuUs: number
    verifyCpuUs: number
    peakRssMiB: number
    concurrency: number
  }>(runner, 'hash-rate', { BENCH_DURATION_MS: String(config.durationSeconds * 1000) }, 60_000)
  state.hashRuns.push({ run, ...result })
  const row = (rps: number, cpuUsPerRequest: number): LoadResult => ({
    rps,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    ok: Math.round(rps * config.durationSeconds),
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    durationSeconds: config.durationSeconds,
    statusCodes: {},
    cpuUsPerRequest,
  })
  addSample('hash/hash', run, row(result.hashPerSecond, result.hashCpuUs), result.peakRssMiB, loadAverage)
  addSample(
    'hash/verify',
    run,
    row(result.verifyPerSecond, result.verifyCpuUs),
    result.peakRssMiB,
    loadAverage,
  )
}

async function runSeries(series: Series, run: number, runner: Runner): Promise<void> {
  if (series.kind === 'hash') return runHashRate(run, runner)
  const own = series.nodeFlags === undefined ? runner : { ...runner, flags: nodeFlags(series.nodeFlags) }
  const server =
    (series.instances ?? 1) > 1
      ? await startInstances(own, series.entry, series.env(), series.instances!)
      : await startServer(own, series.entry, series.env())
  try {
    const headers = series.prepare ? await series.prepare(server.base) : {}
    const tag = `${series.id}-${run}-${randomBytes(3).toString('hex')}`
    for (const m of series.measures) {
      const loadAverage = os.loadavg()[0]!
      const results = await m.run({ server, headers, run, tag })
      const rss = server.peakRssMiB()
      for (const [key, result] of Object.entries(results))
        addSample(`${series.id}/${key}`, run, result, result.rssMiB ?? rss, loadAverage)
    }
  } finally {
    // Every process's own peak, read last (the process's whole life), before it stops.
    const peaks = state.serverPeaks.get(series.id) ?? []
    peaks.push(...server.peaksMiB())
    state.serverPeaks.set(series.id, peaks)
    await server.stop()
  }
}

let cleanedUp = false
async function cleanup(): Promise<void> {
  if (cleanedUp) return
  cleanedUp = true
  killAllChildren()
  await dropPostgresDatabases()
  await deleteRedisKeys(runRedisPrefix()).catch((err: Error) => log(`could not clean Redis: ${err.message}`))
  rmSync(state.tmp, { recursive: true, force: true })
}

process.on('exit', killAllChildren)
let interrupts = 0
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    state.aborted = true
    killAllChildren()
    if (++interrupts > 1) process.exit(130)
    log(`${signal}: stopping after the current measurement`)
  })
}

async function main(): Promise<void> {
  const series = allSeries()
  log(
    `fastify-users benchmark: scenarios ${[...config.scenarios].join(',')}, ${series.length} series, ` +
      `${config.runs} runs, budget ${config.budgetSeconds} s`,
  )
  const watchdog = setTimeout(
    () => {
      log('time budget exceeded by 60 s: stopping everything')
      state.aborted = true
      killAllChildren()
      void cleanup().finally(() => {
        writeResults(SCENARIOS, series, false)
        process.exit(1)
      })
    },
    (config.budgetSeconds + 60) * 1000,
  )
  watchdog.unref()
  for (const s of SCENARIOS) {
    const why = config.scenarios.has(s.number) ? (s.skipped?.() ?? null) : null
    if (why !== null) log(`scenario ${s.number} skipped: ${why}`)
  }
  try {
    let runner: Runner = tsxRunner
    if (config.runner === 'bundle') {
      try {
        runner = await bundleEntries(join(state.resultsDir, '.build'))
      } catch (err) {
        // esbuild comes with tsx; without it, fall back to tsx (peak RSS then includes its loader).
        log(`cannot bundle the servers (${(err as Error).message}): running them through tsx`)
        config.runner = 'tsx'
      }
    }
    if (config.postgres && series.some((s) => s.kind === 'server' && s.postgres)) {
      try {
        await postgresDatabase('main')
      } catch (err) {
        state.postgresNote = `unavailable (${(err as Error).message})`
        log(`PostgreSQL ${state.postgresNote}: its series are skipped`)
      }
    }
    const ready = series.filter((s) => s.kind === 'hash' || !s.postgres || state.postgresNote === null)
    const active: Series[] = []
    for (const s of ready) {
      try {
        if (s.kind === 'server' && s.setup) await s.setup()
        active.push(s)
      } catch (err) {
        state.errors.push({ series: s.id, run: 0, error: `setup: ${(err as Error).message}` })
        log(`ERROR ${s.id} setup: ${(err as Error).message}`)
      }
    }

    for (let run = 1; run <= config.runs && !state.aborted; run++) {
      log(`run ${run}/${config.runs}`)
      for (const s of active) {
        if (state.aborted) break
        if (elapsed() + estimateSeconds(s) > config.budgetSeconds) {
          state.skipped.push({ series: s.id, run, reason: `would end past ${config.budgetSeconds} s` })
          log(`skip ${s.id} run ${run}: it would end past the budget`)
          continue
        }
        log(`${s.id} (run ${run})`)
        try {
          await runSeries(s, run, runner)
        } catch (err) {
          state.errors.push({ series: s.id, run, error: (err as Error).message })
          log(`ERROR ${s.id} run ${run}: ${(err as Error).message}`)
        }
      }
    }
  } finally {
    await cleanup()
    clearTimeout(watchdog)
  }
  writeResults(SCENARIOS, series, !state.aborted)
  if (liveChildren() > 0) log(`warning: ${liveChildren()} child processes still running`)
  if (state.errors.length > 0 || state.aborted) process.exitCode = 1
}

await main()
