/**
 * Runs the built `fastify-users` binary (`dist/cli/index.js`) in a subprocess, as a user or a script
 * would. The tests never import the CLI's modules for this: what ships is what is tested.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** The built executable. */
export const CLI_BIN: string = join(root, 'dist', 'cli', 'index.js')

/** What a run of the binary did. */
export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Throws, saying to run `npm run build`, when the binary is missing or older than a source file it is
 * built from; a stale build would otherwise test yesterday's code. Only the modules the CLI imports count,
 * so editing, say, the Fastify plugin does not ask for a rebuild.
 */
export function assertBuilt(): void {
  if (!existsSync(CLI_BIN)) {
    throw new Error(`${CLI_BIN} does not exist: run \`npm run build\` before the CLI tests`)
  }
  const built = statSync(CLI_BIN).mtimeMs
  for (const source of cliSources(join(root, 'src', 'cli', 'index.ts'))) {
    if (statSync(source).mtimeMs > built) {
      throw new Error(
        `dist/cli is older than ${relative(root, source)}: run \`npm run build\` before the CLI tests`,
      )
    }
  }
}

/** Every source file reachable from `entry` through relative imports (`from './x.js'` is `./x.ts`). */
function cliSources(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry) || !existsSync(entry)) return seen
  seen.add(entry)
  const text = readFileSync(entry, 'utf8')
  for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
    cliSources(resolve(dirname(entry), `${match[1]}.ts`), seen)
  }
  return seen
}

/** Options of {@link runCliProcess}. */
export interface RunOptions {
  /** Extra environment, e.g. `DATABASE_URL`. `DATABASE_URL` is not inherited from the test's environment. */
  env?: Record<string, string>
  /** Written to stdin, which is then closed. stdin is always a pipe, never a terminal. */
  input?: string
  /** Default: `60000` ms; the process is killed after it. */
  timeoutMs?: number
}

/**
 * Runs `node dist/cli/index.js ...args` and collects its output.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runCliProcess(['list-users', '--json'], { env: { DATABASE_URL: url } })
 * ```
 */
export function runCliProcess(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const { DATABASE_URL: _inherited, ...env } = process.env
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      env: { ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
    child.stdin.on('error', () => {}) // the CLI may exit before reading stdin
    child.stdin.end(options.input ?? '')
  })
}
