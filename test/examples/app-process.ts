/**
 * Runs a TypeScript entry point (the demo, an example, a script) as a real subprocess with
 * `node --import tsx`, and talks to it over real HTTP, so the tests see what a newcomer sees.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { type AddressInfo, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { tokenFromLink } from '../../src/mail/messages.js'

/** The repository root, where the entry points live. */
export const root = fileURLToPath(new URL('../..', import.meta.url))

// An absolute URL, so that a subprocess started in a temp directory (no node_modules) still finds tsx.
const tsxLoader = import.meta.resolve('tsx')

const STARTUP_MS = 30_000

/** A port nobody listens on right now, so that the links an app prints name its real port. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** How to start a subprocess. */
export interface StartOptions {
  /** Path from the repository root, for example `examples/basic.ts`. */
  entry: string
  args?: string[]
  /** Added to a minimal environment (PATH, HOME); nothing else leaks in from the test's own. */
  env?: Record<string, string | undefined>
  /** Working directory. Default: the repository root. */
  cwd?: string
}

/** A running subprocess with its output, line by line. */
export class AppProcess {
  readonly child: ChildProcess
  readonly lines: string[] = []
  #stderr = ''
  #partial = ''
  #waiters = new Set<() => void>()

  constructor(options: StartOptions) {
    const env: Record<string, string> = {}
    for (const key of ['PATH', 'HOME', 'TMPDIR']) if (process.env[key]) env[key] = process.env[key]
    for (const [key, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[key] = value
    this.child = spawn(
      process.execPath,
      ['--import', tsxLoader, `${root}/${options.entry}`, ...(options.args ?? [])],
      { cwd: options.cwd ?? root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n')
      this.#partial = parts.pop() ?? ''
      this.lines.push(...parts)
      for (const wake of this.#waiters) wake()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk
    })
    this.child.on('exit', () => {
      for (const wake of this.#waiters) wake()
    })
  }

  /** Everything printed so far, for failure messages. */
  get output(): string {
    return `--- stdout\n${this.lines.join('\n')}${this.#partial}\n--- stderr\n${this.#stderr}`
  }

  /** The first line (from `from` on) matching `pattern`, waiting for it; fails on exit or timeout. */
  async waitForLine(
    pattern: RegExp,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RegExpExecArray> {
    const deadline = Date.now() + (options.timeoutMs ?? STARTUP_MS)
    for (;;) {
      for (let i = options.from ?? 0; i < this.lines.length; i++) {
        const match = pattern.exec(this.lines[i]!)
        if (match) return match
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `process exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}\n${this.output}`,
        )
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no line matching ${pattern} within the timeout\n${this.output}`)
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.#waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, Math.min(left, 250))
        this.#waiters.add(wake)
      })
    }
  }

  /** Waits for the process to end on its own; returns its exit code. */
  async exited(timeoutMs = STARTUP_MS): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const [code] = (await once(this.child, 'exit')) as [number | null]
    clearTimeout(timer)
    return code
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it to end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exit = once(this.child, 'exit')
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000)
    await exit
    clearTimeout(timer)
  }
}

/** A minimal HTTP client with one credential: the cookie it was last given, or a Bearer token. */
export class Client {
  readonly base: string
  cookie: string | undefined
  bearer: string | undefined

  constructor(base: string) {
    this.base = base
  }

  /** Sends a request; JSON in, JSON (or text) out. Picks up a `set-cookie` credential. */
  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.cookie) headers.cookie = this.cookie
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`
    const response = await fetch(new URL(path, this.base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'follow',
    })
    const setCookie = response.headers.getSetCookie()[0]
    if (setCookie) this.cookie = setCookie.split(';')[0]
    const text = await response.text()
    let parsed: unknown = text
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text)
    return { status: response.status, body: parsed, text, headers: response.headers }
  }
}

/** The token of the first `[mail]` line to `email` from line `from` on, waiting for it; with its link and subject. */
export async function mailedToken(
  app: AppProcess,
  email: string,
  from = 0,
): Promise<{ token: string; link: URL; subject: string }> {
  const escaped = email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const match = await app.waitForLine(
    new RegExp(`^\\[mail\\] to=${escaped} subject=("[^"]*") link=(\\S+)$`),
    {
      from,
    },
  )
  const link = new URL(match[2]!)
  const token = tokenFromLink(match[2]!)
  if (!token) throw new Error(`mail line without a token: ${match[0]}`)
  return { token, link, subject: JSON.parse(match[1]!) as string }
}
