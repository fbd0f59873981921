/**
 * Graceful, bounded shutdown of a Fastify server on SIGTERM / SIGINT. `app.close()` alone waits for
 * keep-alive connections to time out (72 s by default) and for clients that sent half a request, and
 * answers requests that arrive meanwhile with a bare 503; {@link closeOnSignals} instead:
 *
 * 1. stops accepting connections and closes the idle keep-alive ones at once;
 * 2. answers requests that still arrive on open connections 503 problem+json (`ERR_SHUTTING_DOWN`) with
 *    `Connection: close` and `Retry-After`, and closes every connection after its current answer;
 * 3. lets the requests in flight finish, closes connections on which no request arrived within a short
 *    grace (a client that sent half its headers);
 * 4. at the drain deadline (three quarters of `timeoutMs`) drops the connections still open, then runs
 *    `app.close()` (the plugin waits for mails in flight and closes the database);
 * 5. exits with code 0, or 1 when `app.close()` failed or did not finish within `timeoutMs`.
 *
 * @module
 */
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { ShuttingDownError } from '../kernel/errors.js'
import { sendProblem } from './error-handler.js'

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /** The longest a shutdown may take, from the signal to the exit. Default: `10_000` (10 s). */
  timeoutMs?: number
  /** The signals that start the shutdown. Default: `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[]
  /** Whether to end the process once closed (`process.exit`). Default: `true`. */
  exit?: boolean
}

/** What {@link closeOnSignals} returns. */
export interface GracefulShutdown {
  /**
   * Starts the shutdown as a signal would (once; later calls get the same promise). Resolves with the
   * exit code: `0` when the app closed in time, `1` otherwise.
   */
  shutdown(reason?: string): Promise<number>
  /** Whether a shutdown has started. */
  readonly draining: boolean
  /** Removes the signal listeners (the hooks stay, and do nothing until a shutdown). */
  dispose(): void
}

const POLL_MS = 25
const HALF_REQUEST_GRACE_MS = 1_000

/**
 * Makes `app` shut down gracefully and within `timeoutMs` on the given signals. Call it before
 * `listen()` (it adds hooks). A second signal during the shutdown exits at once with code 1.
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: true })
 * await app.register(fastifyUsers, options)
 * closeOnSignals(app, { timeoutMs: 10_000, signals: ['SIGTERM', 'SIGINT'] })
 * await app.listen({ port: 3000 })
 * ```
 */
export function closeOnSignals(app: FastifyInstance, options: CloseOnSignalsOptions = {}): GracefulShutdown {
  const timeoutMs = options.timeoutMs ?? 10_000
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('fastify-users: closeOnSignals timeoutMs must be a positive number of milliseconds')
  }
  const signals = options.signals ?? ['SIGTERM', 'SIGINT']
  const exit = options.exit ?? true

  let draining = false
  let closing: Promise<number> | undefined
  // Every open connection, and how many requests each has in flight (from complete headers to the end
  // of the answer). A connection without one is idle or has sent only part of a request.
  const sockets = new Set<Socket>()
  const active = new Map<Socket, number>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      active.delete(socket)
    })
  })
  app.server.on('request', (req, res) => {
    const socket = req.socket
    active.set(socket, (active.get(socket) ?? 0) + 1)
    res.once('close', () => {
      const left = (active.get(socket) ?? 1) - 1
      if (left > 0) active.set(socket, left)
      else active.delete(socket)
    })
  })

  // Callback hooks: they run on every request, and an async hook costs a promise and a microtask each.
  app.addHook('onRequest', (_request, reply, done) => {
    if (draining) sendProblem(reply, new ShuttingDownError())
    else done()
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Each connection ends with its current answer, so no client keeps one open during the drain.
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })

  const inFlight = (): number => [...active.values()].reduce((a, b) => a + b, 0)
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  async function run(reason: string): Promise<number> {
    const started = Date.now()
    const drainDeadline = started + Math.floor(timeoutMs * 0.75)
    const hardDeadline = started + timeoutMs
    draining = true
    app.log.info({ event: 'shutdown_start', reason, inFlight: inFlight() }, 'shutting down')
    // Stops accepting connections; Node also closes the idle keep-alive ones here.
    if (app.server.listening) app.server.close()
    app.server.closeIdleConnections()
    const grace = Math.min(HALF_REQUEST_GRACE_MS, Math.floor(timeoutMs / 10))
    while (Date.now() < drainDeadline) {
      if (Date.now() - started >= grace) {
        for (const socket of sockets) if (!active.has(socket)) socket.destroy()
      }
      if (inFlight() === 0 && (sockets.size === 0 || Date.now() - started >= grace)) break
      app.server.closeIdleConnections()
      await sleep(POLL_MS)
    }
    const abandoned = inFlight()
    if (abandoned > 0) {
      app.log.warn(
        { event: 'shutdown_abandoned', requests: abandoned },
        'shutdown: requests still unfinished at the deadline were dropped',
      )
    }
    for (const socket of sockets) socket.destroy()

    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([
      app.close().then(
        () => 0,
        (err: unknown) => {
          app.log.error({ err }, 'shutdown: closing the app failed')
          return 1
        },
      ),
      new Promise<number>((resolve) => {
        timer = setTimeout(
          () => {
            app.log.error({ event: 'shutdown_timeout', timeoutMs }, 'shutdown: the app did not close in time')
            resolve(1)
          },
          Math.max(0, hardDeadline - Date.now()),
        )
      }),
    ])
    clearTimeout(timer)
    app.log.info({ event: 'shutdown_done', ms: Date.now() - started, code }, 'shut down')
    if (exit) process.exit(code)
    return code
  }

  const shutdown = (reason = 'shutdown'): Promise<number> => {
    closing ??= run(reason)
    return closing
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing !== undefined) {
      app.log.warn({ event: 'shutdown_forced', signal }, 'second signal: exiting at once')
      process.exit(1)
    }
    void shutdown(signal)
  }
  for (const signal of signals) process.on(signal, onSignal)

  return {
    shutdown,
    get draining() {
      return draining
    },
    dispose() {
      for (const signal of signals) process.off(signal, onSignal)
    },
  }
}
