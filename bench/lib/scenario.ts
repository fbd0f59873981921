/**
 * What a scenario module (`bench/scenarios/*.ts`) gives the driver: its series, its table(s), and its
 * ratios against their targets, computed from the medians of the same run.
 *
 * @module
 */
import type { RatioResult, RowSummary } from './report.js'
import type { Series } from './series.js'

/** A table of a scenario: a title and the row ids it shows, in order. */
export interface ScenarioTable {
  title: string
  rows: string[]
}

/** One scenario of the benchmark. */
export interface Scenario {
  number: number
  /** The series it measures (a series may belong to several scenarios; each is defined once). */
  series(): Series[]
  tables(): ScenarioTable[]
  ratios(r: Ratios): void
  /** Why it does not run in this configuration, or null when it does. */
  skipped?(): string | null
}

/** Pass/fail of a value against a target. */
export function judge(
  value: number | null,
  op: '>=' | '<=' | null,
  target: number | null,
): RatioResult['status'] {
  if (value === null) return 'not run'
  if (op === null || target === null) return 'info'
  return (op === '>=' ? value >= target : value <= target) ? 'met' : 'missed'
}

/** Builds the ratio table from the row summaries of a run. */
export class Ratios {
  readonly list: RatioResult[] = []
  readonly #sum: Map<string, RowSummary>

  constructor(sum: Map<string, RowSummary>) {
    this.#sum = sum
  }

  /** The median of a row's field, or null when the row did not run. */
  median(id: string, field: 'rps' | 'p99Ms' = 'rps'): number | null {
    return this.#sum.get(id)?.[field]?.median ?? null
  }

  /**
   * The ratio of two rows' median rates, and the same ratio from the servers' CPU time per request
   * (den ÷ num): what the rates would be if each server had a core of its own, whatever else the
   * machine was doing. `op` and `target` null: informational.
   */
  divide(id: string, label: string, num: string, den: string, op: '>=' | '<=' | null, target: number | null) {
    const a = this.median(num)
    const b = this.median(den)
    const value = a === null || b === null || b === 0 ? null : a / b
    const ca = this.#sum.get(num)?.cpuUsPerRequest?.median
    const cb = this.#sum.get(den)?.cpuUsPerRequest?.median
    const byCpu = ca !== undefined && cb !== undefined && ca > 0 ? cb / ca : null
    this.list.push({
      id,
      label,
      value,
      byCpu,
      unit: '×',
      op: op ?? '>=',
      target,
      status: judge(value, op, target),
      formula: `median req/s of ${num} ÷ median req/s of ${den}`,
    })
  }

  /** A row's median p99 against a ceiling in milliseconds. */
  p99(id: string, label: string, row: string, target: number | null) {
    const value = this.median(row, 'p99Ms')
    this.list.push({
      id,
      label,
      value,
      byCpu: null,
      unit: 'ms',
      op: '<=',
      target,
      status: judge(value, '<=', target),
      formula: `median p99 of ${row}`,
    })
  }

  /** Any other figure against its target. */
  push(result: RatioResult) {
    this.list.push(result)
  }
}
