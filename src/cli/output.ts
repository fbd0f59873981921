/**
 * Everything the CLI writes: results on stdout, errors on stderr, and the one mapping from an error to a
 * message and an exit code.
 *
 * @module
 */
import { CommanderError } from 'commander'
import type { BaseUser } from '../core/user.js'
import { FastifyUsersError } from '../kernel/errors.js'

/** A stream the CLI writes to. */
export interface OutputStream {
  write(chunk: string): unknown
}

/** A stream the CLI reads the password from; a terminal has `isTTY` and `setRawMode`. */
export type InputStream = NodeJS.ReadableStream & {
  isTTY?: boolean
  setRawMode?(mode: boolean): unknown
}

/** The streams of one CLI run: the process's own, or others in tests. */
export interface CliIo {
  stdin: InputStream
  stdout: OutputStream
  stderr: OutputStream
}

/** The real process streams. */
export const processIo: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }

/**
 * Exit codes. `0` success; `1` the command could not do what was asked (bad input, a duplicate, an
 * unknown user or role, a password refused by the policy, an unreachable database); `2` the command line
 * itself is wrong or incomplete (unknown option, missing value, no database URL, no password and no
 * terminal to ask for one); `130` cancelled with Ctrl-C at a prompt.
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, cancelled: 130 } as const

/**
 * An error the CLI reports as is: the message goes to stderr after `error: `, and the process exits with
 * `exitCode`.
 *
 * @example
 * ```ts
 * throw new CliError(`no user with the email '${email}'`)
 * ```
 */
export class CliError extends Error {
  /** Default: `1` ({@link ExitCode}). */
  readonly exitCode: number
  constructor(message: string, exitCode: number = ExitCode.failure) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/**
 * The one exit-with-error path: writes what went wrong to stderr and returns the exit code. Commander has
 * already printed its own usage errors, so only their code is taken.
 *
 * @example
 * ```ts
 * process.exitCode = reportError(new CliError('no role named admin'), process.stderr) // 1
 * ```
 */
export function reportError(error: unknown, stderr: OutputStream): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage
  }
  if (error instanceof CliError) {
    stderr.write(`error: ${error.message}\n`)
    return error.exitCode
  }
  if (error instanceof FastifyUsersError) {
    stderr.write(`error: ${error.message} (${error.code})\n`)
    return ExitCode.failure
  }
  // Anything else is a fault (a driver error, a broken schema): the message, not a stack trace, which
  // would bury the cause under library frames.
  const message = error instanceof Error ? error.message : String(error)
  stderr.write(`error: ${message}\n`)
  return ExitCode.failure
}

/**
 * A user as the CLI prints it in JSON: the same fields as the HTTP API's user body, never the password
 * hash or the credential version.
 *
 * @example
 * ```ts
 * process.stdout.write(`${JSON.stringify(publicUser(user), null, 2)}\n`)
 * ```
 */
export function publicUser(user: BaseUser): Record<string, unknown> {
  const { passwordHash: _hash, authVersion: _version, createdAt, updatedAt, ...rest } = user
  return { ...rest, createdAt: createdAt.toISOString(), updatedAt: updatedAt.toISOString() }
}

/**
 * Formats rows as a plain-text table with a header line, columns padded to their widest cell.
 *
 * @example
 * ```ts
 * formatTable(['ID', 'EMAIL'], [['1', 'ada@example.com']])
 * // 'ID  EMAIL\n1   ada@example.com\n'
 * ```
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(cell.length + widths[i]! - width(cell))))
      .join('  ')
      .trimEnd()
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`
}

/** Display width in code points, so an accented email does not shift the columns. */
function width(text: string): number {
  return [...text].length
}

/**
 * A value of a custom field as a table cell: booleans as yes/no, `null` as nothing, control characters
 * escaped.
 *
 * @example
 * ```ts
 * cell(true) // 'yes'
 * ```
 */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') return JSON.stringify(value)
  // Control characters would let a stored value rewrite the terminal; show them escaped.
  return String(value).replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
