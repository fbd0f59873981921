/**
 * Hidden password input on a terminal, through `node:readline` with its output muted: nothing typed is
 * echoed, not even asterisks (which would tell a shoulder-surfer the length).
 *
 * @module
 */
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { CliError, ExitCode, type InputStream, type OutputStream } from './output.js'

/** Where a prompt reads and writes. `input` must be a terminal (`isTTY`). */
export interface PromptIo {
  input: InputStream
  /** Receives the question; the CLI uses stderr, so stdout stays clean for results. */
  output: OutputStream
}

/**
 * Asks one question and reads the answer without echoing it.
 *
 * @throws CliError exit code 130 on Ctrl-C, 1 when the input ends before a line is entered.
 *
 * @example
 * ```ts
 * const secret = await promptHidden('API key: ', { input: process.stdin, output: process.stderr })
 * ```
 */
export function promptHidden(question: string, io: PromptIo): Promise<string> {
  let muted = false
  // readline echoes every key to its output (it redraws the line); swallowing that output after the
  // question is written is what hides the input. Terminal mode also switches the TTY to raw mode, so the
  // terminal itself does not echo either.
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!muted) io.output.write(chunk.toString())
      callback()
    },
  })
  const rl = createInterface({ input: io.input, output, terminal: true, historySize: 0 })
  return new Promise<string>((resolve, reject) => {
    let settled = false
    const finish = (error: Error | null, answer = '') => {
      if (settled) return
      settled = true
      muted = false
      io.output.write('\n')
      rl.close()
      if (error) reject(error)
      else resolve(answer)
    }
    // In raw mode Ctrl-C arrives as a key, not as a signal; without this listener readline would only pause.
    rl.on('SIGINT', () => finish(new CliError('cancelled', ExitCode.cancelled)))
    rl.on('close', () => finish(new CliError('no password entered: the input ended')))
    io.output.write(question)
    muted = true
    rl.question('', (answer) => finish(null, answer))
  })
}

/**
 * Asks for a new password twice, hidden, and returns it when both entries match.
 *
 * @throws CliError when the input is not a terminal (exit code 2: pass `--password` instead), when the
 *   entries differ or are empty (1), or on Ctrl-C (130).
 *
 * @example
 * ```ts
 * const password = options.password ?? (await promptNewPassword({ input: process.stdin, output: process.stderr }))
 * ```
 */
export async function promptNewPassword(io: PromptIo): Promise<string> {
  if (!io.input.isTTY) {
    throw new CliError(
      'no --password given, and stdin is not a terminal to ask for one; pass --password or run the command in a terminal',
      ExitCode.usage,
    )
  }
  const first = await promptHidden('Password: ', io)
  if (first.length === 0) throw new CliError('the password is empty')
  const second = await promptHidden('Repeat password: ', io)
  if (first !== second) throw new CliError('the passwords do not match')
  return first
}

/**
 * Reads a password piped to stdin (`--password-stdin`): the first line, without its line break. Keeps the
 * password out of the process list and the shell history, where `--password` would leave it.
 *
 * @throws CliError when the input is empty.
 *
 * @example
 * ```ts
 * const password = await readPasswordFrom(process.stdin) // printf '%s\n' "$PW" | fastify-users create-user ...
 * ```
 */
export async function readPasswordFrom(input: InputStream): Promise<string> {
  let data = ''
  for await (const chunk of input) {
    data += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    if (data.includes('\n')) break
  }
  const password = data.split(/\r?\n/, 1)[0] ?? ''
  if (password.length === 0)
    throw new CliError('no password on stdin (--password-stdin reads its first line)')
  return password
}
