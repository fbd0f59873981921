/**
 * Starting, measuring and stopping the benchmark's child processes. Every child runs in its own process
 * group, is tracked until it exits, and is killed (by its own id) when the orchestrator stops, fails or
 * is interrupted; each also stops itself when the orchestrator's end of its stdin closes.
 *
 * Servers run as plain JavaScript bundled from their TypeScript by esbuild (tsx's own copy), so the
 * peak RSS measured is the server's and not the TypeScript loader's (`node --import tsx` adds ~24 MiB:
 * a loader thread with its own V8 heap). `BENCH_RUNNER=tsx` runs the sources through tsx instead.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/**
 * The Node flags docs/scaling.md recommends for a production server ("Memory"), which the benchmark
 * runs every process with: V8's young generation capped at two 2 MiB semi-spaces instead of growing to
 * two of 16 MiB under load. Measured on this code: 25 to 40 MiB less peak RSS per server and no
 * measurable CPU cost per request (docs/benchmarks.md, "Memory").
 */
export const RECOMMENDED_NODE_FLAGS = '--max-semi-space-size=2'

/**
 * The Node flags every child runs with unless its series sets its own: `BENCH_NODE_FLAGS` (split on
 * spaces), by default {@link RECOMMENDED_NODE_FLAGS}. Every process of the run gets the same flags (the
 * baselines, better-auth and fastify-users alike), so the ratios compare like with like.
 * `BENCH_NODE_FLAGS=` (empty) runs Node's defaults.
 */
export const NODE_FLAGS = nodeFlags(process.env.BENCH_NODE_FLAGS ?? RECOMMENDED_NODE_FLAGS)

/** Splits a flag list written as one string (`BENCH_NODE_FLAGS`, a series' `nodeFlags`). */
export function nodeFlags(text: string): string[] {
  return text.split(' ').filter((flag) => flag !== '')
}

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The entry points that run as child processes, relative to `bench/`, without extension. */
export const ENTRIES = ['servers/bare', 'servers/fastify-users', 'servers/better-auth', 'hash-rate'] as const
export type Entry = (typeof ENTRIES)[number]

/** How a child entry point is run. */
export interface Runner {
  name: 'bundle' | 'tsx'
  /** The Node flags its children run with: {@link NODE_FLAGS}, or a series' own. */
  flags: readonly string[]
  args(entry: Entry): string[]
}

const live = new Set<ChildProcess>()

/**
 * Bundles the entry points into `outdir` (git-ignored) with esbuild; dependencies stay external and
 * load from `node_modules` as in an application. Returns the runner for the bundles.
 */
export async function bundleEntries(outdir: string): Promise<Runner> {
  const esbuild = await import('esbuild')
  rmSync(outdir, { recursive: true, force: true })
  await esbuild.build({
    entryPoints: ENTRIES.map((entry) => join(ROOT, 'bench', `${entry}.ts`)),
    outbase: join(ROOT, 'bench'),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  })
  return { name: 'bundle', flags: NODE_FLAGS, args: (entry) => [join(outdir, `${entry}.mjs`)] }
}

/** Runs the TypeScript sources through tsx (no build step; the loader adds to the RSS). */
export const tsxRunner: Runner = {
  name: 'tsx',
  flags: NODE_FLAGS,
  args: (entry) => ['--import', 'tsx', join(ROOT, 'bench', `${entry}.ts`)],
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/** Kills every child still running (SIGKILL, by process group id). For exit paths. */
export function killAllChildren(): void {
  for (const child of live) signalGroup(child, 'SIGKILL')
}

/** How many children are still running. */
export function liveChildren(): number {
  return live.size
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

async function stopChild(child: ChildProcess): Promise<void> {
  signalGroup(child, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000)
  await exited(child)
  clearTimeout(timer)
  // The group may hold helpers of the child (none expected); make sure none outlives it.
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // no such group: all gone
    }
  }
  live.delete(child)
}

/** `BENCH_CPU_PROF=<dir>`: every child writes a V8 CPU profile there when it exits (for investigations). */
function profileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

function launch(runner: Runner, entry: Entry, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [...runner.flags, ...profileArgs(), ...runner.args(entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env, BENCH_WATCH_STDIN: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

function tail(child: ChildProcess): () => string {
  let text = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-4000)
  })
  return () => text.trim()
}

/** A running server. */
export interface RunningServer {
  pid: number
  base: string
  /** Peak resident set size so far (`VmHWM` of /proc/<pid>/status), in MiB. */
  peakRssMiB(): number
  /** The peak RSS of each of its processes (one here; one per instance for a group), in MiB. */
  peaksMiB(): number[]
  /** CPU seconds used so far (all threads). */
  cpuSeconds(): number
  stop(): Promise<void>
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS = 100

/**
 * CPU time (user + system, all threads) a live process has used so far, in seconds, from /proc; NaN if
 * it cannot be read. The difference over a measurement divided by its requests is the server's CPU cost
 * per request: unlike req/s, it barely moves when other work shares the machine.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th
    // field of the line, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}

/** Peak RSS of a live process in MiB, from /proc; NaN if it cannot be read. */
export function peakRssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)
    return match ? Number(match[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Starts a server entry with `PORT=0` and waits (at most `timeoutMs`) for its `{"port":N}` line. */
export async function startServer(
  runner: Runner,
  entry: Entry,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<RunningServer> {
  const child = launch(runner, entry, { ...env, PORT: '0' })
  const stderr = tail(child)
  const lines = createInterface({ input: child.stdout! })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${entry} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      )
      lines.on('line', (line) => {
        try {
          const { port } = JSON.parse(line) as { port?: unknown }
          if (typeof port === 'number') {
            clearTimeout(timer)
            resolve(port)
          }
        } catch {
          // not the port line
        }
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${entry} exited (${signal ?? code}) before listening: ${stderr()}`))
      })
    })
    const pid = child.pid!
    return {
      pid,
      base: `http://127.0.0.1:${port}`,
      peakRssMiB: () => peakRssMiB(pid),
      peaksMiB: () => [peakRssMiB(pid)],
      cpuSeconds: () => cpuSeconds(pid),
      stop: () => stopChild(child),
    }
  } catch (err) {
    await stopChild(child)
    throw err
  }
}

/** Runs a one-shot entry to completion (at most `timeoutMs`) and returns its last stdout line, parsed. */
export async function runOnce<T>(
  runner: Runner,
  entry: Entry,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<T> {
  const child = launch(runner, entry, env)
  const stderr = tail(child)
  let out = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    out += chunk
  })
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  )
  clearTimeout(timer)
  live.delete(child)
  if (code !== 0) throw new Error(`${entry} failed (exit ${code}): ${stderr()}`)
  const last = out.trim().split('\n').at(-1) ?? ''
  return JSON.parse(last) as T
}
