/**
 * Aggregation (min / median / max over runs) and the Markdown tables the benchmark prints.
 *
 * @module
 */

/** One measurement of one row in one run. */
export interface Sample {
  run: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** Peak RSS of the process under test up to the end of this measurement, in MiB. */
  rssMiB: number
  /** Server CPU time (all threads) per 2xx response, in microseconds. */
  cpuUsPerRequest: number
  /** 2xx responses counted. */
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  /** 1-minute load average of the machine when the measurement started. */
  loadAverage: number
}

/** Min, median and max of a set of runs. */
export interface Stat {
  min: number
  median: number
  max: number
}

/** Min / median / max, ignoring NaN; null when nothing is left. */
export function stat(values: readonly number[]): Stat | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { min: sorted[0]!, median, max: sorted.at(-1)! }
}

/** The aggregate of a row. */
export interface RowSummary {
  rps: Stat | null
  p50Ms: Stat | null
  p99Ms: Stat | null
  rssMiB: Stat | null
  cpuUsPerRequest: Stat | null
  /** 2xx responses per run. */
  answers: Stat | null
  runs: number
  /** Responses that were not 2xx, plus socket errors and timeouts, over all runs. */
  failures: number
}

/** Aggregates the samples of a row. */
export function summarize(samples: readonly Sample[]): RowSummary {
  return {
    rps: stat(samples.map((s) => s.rps)),
    p50Ms: stat(samples.map((s) => s.p50Ms)),
    p99Ms: stat(samples.map((s) => s.p99Ms)),
    rssMiB: stat(samples.map((s) => s.rssMiB)),
    cpuUsPerRequest: stat(samples.map((s) => s.cpuUsPerRequest)),
    answers: stat(samples.map((s) => s.ok)),
    runs: samples.length,
    failures: samples.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0),
  }
}

/** A number for a table: fewer decimals as it grows. */
export function fmt(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

function cell(s: Stat | null): string {
  if (!s) return '–'
  return `${fmt(s.min)} / **${fmt(s.median)}** / ${fmt(s.max)}`
}

/** A row of a scenario table. */
export interface TableRow {
  label: string
  summary: RowSummary | undefined
}

/**
 * A Markdown table of rows: req/s, p50, p99 and peak RSS as min / **median** / max; the server's CPU
 * time per request (median); runs × answers (2xx responses per run, median), and failures if any.
 */
export function table(rows: readonly TableRow[]): string {
  const lines = [
    '| | req/s | p50 ms | p99 ms | peak RSS MiB | CPU µs/req | runs × answers |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const { label, summary } of rows) {
    if (!summary || summary.runs === 0) {
      lines.push(`| ${label} | not run | | | | | 0 |`)
      continue
    }
    const failures = summary.failures > 0 ? `, ${summary.failures} failed` : ''
    lines.push(
      `| ${label} | ${cell(summary.rps)} | ${cell(summary.p50Ms)} | ${cell(summary.p99Ms)} | ${cell(summary.rssMiB)} | ${fmt(summary.cpuUsPerRequest?.median)} | ${summary.runs} × ${fmt(summary.answers?.median)}${failures} |`,
    )
  }
  return lines.join('\n')
}

/** A ratio against its target. */
export interface RatioResult {
  id: string
  label: string
  /** The measured value (a ratio, or milliseconds, or MiB: see `unit`). */
  value: number | null
  /** For rate ratios: the same ratio computed from the servers' CPU time per request. */
  byCpu: number | null
  unit: '×' | 'ms' | 'MiB'
  /** `>=` or `<=` the target. */
  op: '>=' | '<='
  target: number | null
  status: 'met' | 'missed' | 'info' | 'not run'
  /** How the value was computed. */
  formula: string
}

/** A Markdown table of ratios with their targets. */
export function ratioTable(ratios: readonly RatioResult[]): string {
  const lines = [
    '| ratio | measured | target | status | from CPU µs/req |',
    '| --- | --- | --- | --- | --- |',
  ]
  for (const r of ratios) {
    const value = r.value === null ? '–' : `${fmt(r.value)}${r.unit === '×' ? '×' : ` ${r.unit}`}`
    const target =
      r.target === null
        ? '–'
        : `${r.op === '>=' ? '≥' : '≤'} ${fmt(r.target)}${r.unit === '×' ? '×' : ` ${r.unit}`}`
    const status = r.status === 'met' ? 'met' : r.status === 'missed' ? '**missed**' : r.status
    const byCpu = r.byCpu === null ? '–' : `${fmt(r.byCpu)}×`
    lines.push(`| ${r.label} | ${value} | ${target} | ${status} | ${byCpu} |`)
  }
  return lines.join('\n')
}
