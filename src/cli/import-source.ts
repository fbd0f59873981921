/**
 * The rows of an import file, read as a stream: JSON Lines through `readline`, CSV through csv-parse.
 * Neither holds more than the current row in memory, so a file of any size imports in constant memory.
 *
 * @module
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { parse } from 'csv-parse'
import { CliError, ExitCode } from './output.js'

/** The formats `fastify-users import` reads. */
export type ImportFormat = 'jsonl' | 'csv'

/** One row of an import file: its fields, or why it cannot be read at all. */
export type SourceRow =
  | { readonly line: number; readonly fields: Record<string, unknown> }
  | { readonly line: number; readonly error: string }

/**
 * The format a file is in, from `--format` or else its extension (`.jsonl`, `.ndjson` or `.csv`).
 *
 * @throws CliError (exit code 2) when neither says.
 *
 * @example
 * ```ts
 * importFormat('users.csv') // 'csv'
 * importFormat('dump.txt', 'jsonl') // 'jsonl'
 * ```
 */
export function importFormat(file: string, format?: string): ImportFormat {
  if (format === 'jsonl' || format === 'csv') return format
  const lower = file.toLowerCase()
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl'
  if (lower.endsWith('.csv')) return 'csv'
  throw new CliError(
    `cannot tell the format of ${file} from its name; name it .jsonl or .csv, or pass --format jsonl|csv`,
    ExitCode.usage,
  )
}

/**
 * Reads the rows of `file` one at a time, numbered by line (the first line is 1; for CSV the header is
 * line 1). Blank lines are skipped. A line that is not a JSON object, or a CSV record with more or fewer
 * cells than the header, comes back as an error row, so the import refuses it and goes on.
 *
 * In CSV, an empty cell is left out of the row's fields (the column's default applies).
 *
 * @param onHeader - called with the CSV header before the first row, to refuse unknown columns before
 *   anything is written.
 * @param onBytes - called with the bytes read so far, for progress.
 * @throws CliError when the CSV quoting is broken (the parser cannot find where the next row starts).
 *
 * @example
 * ```ts
 * for await (const row of readImportRows('users.jsonl', 'jsonl')) {
 *   if ('error' in row) console.error(`line ${row.line}: ${row.error}`)
 * }
 * ```
 */
export async function* readImportRows(
  file: string,
  format: ImportFormat,
  hooks: { onHeader?: (columns: readonly string[]) => void; onBytes?: (bytes: number) => void } = {},
): AsyncGenerator<SourceRow> {
  const input = createReadStream(file)
  if (hooks.onBytes) {
    const { onBytes } = hooks
    input.on('data', () => onBytes(input.bytesRead))
  }
  if (format === 'jsonl') yield* jsonLines(input)
  else yield* csvRows(input, hooks.onHeader)
}

async function* jsonLines(input: NodeJS.ReadableStream): AsyncGenerator<SourceRow> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  let line = 0
  for await (const rawText of lines) {
    line++
    // A byte-order mark some editors write before the first line.
    const text = line === 1 ? rawText.replace(/^\uFEFF/, '') : rawText
    if (text.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      yield { line, error: 'not valid JSON' }
      continue
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, error: 'not a JSON object' }
      continue
    }
    yield { line, fields: value as Record<string, unknown> }
  }
}

async function* csvRows(
  input: NodeJS.ReadableStream,
  onHeader: ((columns: readonly string[]) => void) | undefined,
): AsyncGenerator<SourceRow> {
  const parser = input.pipe(
    parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true }),
  )
  // Without this, a read error of the file would leave the parser waiting forever.
  input.on('error', (error) => parser.destroy(error))
  let header: string[] | undefined
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[]
      info: { lines: number }
    }>) {
      if (header === undefined) {
        header = record.map((name) => name.trim())
        onHeader?.(header)
        continue
      }
      const line = info.lines
      if (record.length !== header.length) {
        yield { line, error: `${record.length} cells where the header has ${header.length}` }
        continue
      }
      const fields: Record<string, unknown> = {}
      header.forEach((name, i) => {
        const value = record[i]
        if (value !== undefined && value !== '') fields[name] = value
      })
      yield { line, fields }
    }
  } catch (error) {
    if (error instanceof CliError) throw error
    throw new CliError(`cannot read the CSV file: ${error instanceof Error ? error.message : String(error)}`)
  }
}
