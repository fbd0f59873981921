/**
 * The end of a run: the Markdown report (one table per scenario, the peak RSS of every fastify-users
 * server, the ratios against their targets) and the raw results, written to `bench/results/`.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { defaultHashConcurrency } from '../../src/password/hash-queue.js'
import { config, elapsed, MIB_TARGET, redisNote, state } from './config.js'
import { NODE_FLAGS, ROOT } from './processes.js'
import {
  fmt,
  type RatioResult,
  type RowSummary,
  ratioTable,
  summarize,
  type TableRow,
  table,
} from './report.js'
import { judge, Ratios, type Scenario } from './scenario.js'
import type { Series, ServerSeries } from './series.js'

function summaries(): Map<string, RowSummary> {
  return new Map([...state.samples].map(([id, list]) => [id, summarize(list)]))
}

function rowLabels(series: readonly Series[]): Map<string, string> {
  const labels = new Map<string, string>()
  for (const s of series) {
    if (s.kind === 'hash') {
      const count = Number(process.env.BENCH_HASH_CONCURRENCY) || defaultHashConcurrency()
      const threads = `${count} thread${count === 1 ? '' : 's'}`
      labels.set('hash/hash', `raw argon2id hash, ${threads} (the limit)`)
      labels.set('hash/verify', `raw argon2id verify, ${threads}`)
      continue
    }
    for (const m of s.measures)
      for (const [key, label] of Object.entries(m.rows)) labels.set(`${s.id}/${key}`, label)
  }
  return labels
}

function versionOf(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string
    }
    return pkg.version
  } catch {
    return 'unknown'
  }
}

function machine() {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadAverageAtEnd: os.loadavg(),
  }
}

/**
 * The peak RSS of every fastify-users server of the run: the largest over its runs and processes.
 * `flags` is set on a series that ran under Node flags of its own (an information row, not judged).
 */
function serverPeaks(
  series: readonly Series[],
): Array<{ id: string; processes: number; worst: number | null; flags: string | null }> {
  return series
    .filter((s): s is ServerSeries => s.kind === 'server' && s.ours)
    .map((s) => {
      const peaks = (state.serverPeaks.get(s.id) ?? []).filter((v) => Number.isFinite(v))
      return {
        id: s.id,
        processes: peaks.length,
        worst: peaks.length > 0 ? Math.max(...peaks) : null,
        flags: s.nodeFlags ?? null,
      }
    })
}

function flagsLabel(flags: readonly string[] | string): string {
  const text = typeof flags === 'string' ? flags : flags.join(' ')
  return text === '' ? "Node's defaults" : `\`${text}\``
}

function peakTable(peaks: ReturnType<typeof serverPeaks>): string {
  const lines = [
    `| fastify-users server | processes measured | peak RSS MiB (worst) | ≤ ${MIB_TARGET} MiB |`,
    '| --- | --- | --- | --- |',
  ]
  for (const p of peaks) {
    const status =
      p.worst === null
        ? 'not run'
        : p.flags !== null
          ? `info (${flagsLabel(p.flags)})`
          : p.worst <= MIB_TARGET
            ? 'met'
            : '**missed**'
    lines.push(`| ${p.id} | ${p.processes} | ${fmt(p.worst)} | ${status} |`)
  }
  return lines.join('\n')
}

function computeRatios(
  scenarios: readonly Scenario[],
  series: readonly Series[],
  sum: Map<string, RowSummary>,
) {
  const r = new Ratios(sum)
  for (const s of scenarios) if (config.scenarios.has(s.number)) s.ratios(r)
  const peaks = serverPeaks(series).filter((p) => p.worst !== null && p.flags === null)
  const worst = peaks.reduce<(typeof peaks)[number] | null>(
    (w, p) => (!w || p.worst! > w.worst! ? p : w),
    null,
  )
  r.push({
    id: 'rss',
    label: `peak RSS, worst fastify-users server process (${worst?.id ?? '–'})`,
    value: worst?.worst ?? null,
    byCpu: null,
    unit: 'MiB',
    op: '<=',
    target: MIB_TARGET,
    status: judge(worst?.worst ?? null, '<=', MIB_TARGET),
    formula: 'max over every fastify-users server process of its VmHWM when it stopped',
  })
  let theirs: { id: string; value: number } | null = null
  for (const [id, s] of sum)
    if (id.startsWith('ba-') && s.rssMiB && (!theirs || s.rssMiB.max > theirs.value))
      theirs = { id, value: s.rssMiB.max }
  r.push({
    id: 'rss-ba',
    label: `peak RSS, worst better-auth run (${theirs?.id ?? '–'})`,
    value: theirs?.value ?? null,
    byCpu: null,
    unit: 'MiB',
    op: '<=',
    target: null,
    status: judge(theirs?.value ?? null, '<=', null),
    formula: 'max over runs and rows of VmHWM',
  })
  return r.list
}

function report(scenarios: readonly Scenario[], series: readonly Series[]) {
  const sum = summaries()
  const labels = rowLabels(series)
  const m = machine()
  const parts: string[] = []
  parts.push(
    `Run of ${state.startedAt.toISOString()}: ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}; ` +
      `${config.runs} runs × ${config.durationSeconds} s (after ${config.warmupSeconds} s warm-up) per measurement${config.quick ? ' (quick mode)' : ''}; ` +
      `servers ${config.runner === 'tsx' ? 'through tsx' : 'bundled to JavaScript'}; ` +
      `every process runs with ${flagsLabel(NODE_FLAGS)} unless its row says otherwise; ` +
      `authentication cache ${config.authCache ? 'on' : 'off'}; ` +
      `PostgreSQL: ${state.postgresNote ?? 'yes'}; Redis: ${redisNote ?? 'yes'}; total ${fmt(elapsed())} s; ` +
      `1-minute load average at the end ${os.loadavg()[0]!.toFixed(1)}.`,
    '',
    'Cells are min / **median** / max over the runs. Peak RSS is the server process’s VmHWM at the end of the measurement.',
  )
  for (const s of scenarios) {
    if (!config.scenarios.has(s.number)) continue
    const why = s.skipped?.() ?? null
    for (const t of s.tables()) {
      if (why !== null) {
        parts.push('', `### ${t.title}`, '', `Not run: ${why}.`)
        continue
      }
      const rows: TableRow[] = t.rows
        .filter((id) => labels.has(id))
        .map((id) => ({ label: labels.get(id)!, summary: sum.get(id) }))
      parts.push('', `### ${t.title}`, '', table(rows))
    }
  }
  const peaks = serverPeaks(series)
  if (peaks.length > 0)
    parts.push(
      '',
      '### Peak RSS of every fastify-users server (VmHWM of each process when it stopped, worst run)',
      '',
      peakTable(peaks),
    )
  const ratios = computeRatios(scenarios, series, sum)
  parts.push('', '### Ratios and targets (ratios of medians, same run)', '', ratioTable(ratios))
  const { bodyBytes, skipped, errors } = state
  if (bodyBytes.bare !== undefined && bodyBytes.usersMe !== undefined && bodyBytes.bare !== bodyBytes.usersMe)
    parts.push('', `Note: the bare body is ${bodyBytes.bare} bytes, /users/me ${bodyBytes.usersMe} bytes.`)
  if (skipped.length > 0)
    parts.push('', `Skipped (time budget): ${skipped.map((s) => `${s.series} run ${s.run}`).join(', ')}.`)
  if (errors.length > 0)
    parts.push('', `Errors: ${errors.map((e) => `${e.series} run ${e.run}: ${e.error}`).join('; ')}.`)
  return { markdown: parts.join('\n'), ratios, sum, labels, peaks }
}

/** Writes `bench/results/<timestamp>.json` and `latest.md`, and prints the report. */
export function writeResults(
  scenarios: readonly Scenario[],
  series: readonly Series[],
  finished: boolean,
): void {
  const { markdown, ratios, sum, labels, peaks } = report(scenarios, series)
  mkdirSync(state.resultsDir, { recursive: true })
  const file = join(state.resultsDir, `${state.startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const rows = Object.fromEntries(
    [...state.samples].map(([id, list]) => [
      id,
      { label: labels.get(id), samples: list, summary: sum.get(id) },
    ]),
  )
  const json = {
    startedAt: state.startedAt.toISOString(),
    finished,
    elapsedSeconds: elapsed(),
    // The Redis URL may hold a password: the results say only whether it was set.
    config: {
      ...config,
      redisUrl: config.redisUrl ? 'set' : null,
      scenarios: [...config.scenarios],
      nodeFlags: NODE_FLAGS,
    },
    machine: machine(),
    versions: Object.fromEntries(
      [
        'fastify',
        'better-auth',
        'autocannon',
        '@node-rs/argon2',
        'better-sqlite3',
        'kysely',
        'pg',
        'esbuild',
      ].map((n) => [n, versionOf(n)]),
    ),
    postgres: state.postgresNote ?? 'yes',
    redis: redisNote ?? 'yes',
    bodyBytes: state.bodyBytes,
    seeding: state.seeding,
    hashRate: state.hashRuns,
    rows,
    serverPeaks: peaks,
    ratios: ratios satisfies RatioResult[],
    skipped: state.skipped,
    errors: state.errors,
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(state.resultsDir, 'latest.md'), `${markdown}\n`)
  process.stdout.write(`\n${markdown}\n\nRaw results: ${file}\n`)
}
