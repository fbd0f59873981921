/**
 * Several server processes measured as one: the two-instance scenario runs N copies of the same server
 * on the same database (and Redis, when given), loaded by one round-robin client over all their ports.
 * CPU time is summed over the processes (so CPU µs per request stays comparable with one instance: the
 * whole cluster's cost of an answer) and the peak RSS is the largest of them (the per-process figure a
 * memory limit applies to).
 *
 * @module
 */
import { type Entry, type Runner, type RunningServer, startServer } from './processes.js'

/** Running servers measured together; `base` is the first one's, `bases` every one's. */
export interface ServerGroup extends RunningServer {
  bases: readonly string[]
}

/**
 * Starts `count` copies of `entry` with the same environment, one after the other (so concurrent
 * migrations never race), and returns them as one server: summed CPU, largest peak RSS.
 *
 * @example
 * ```ts
 * const group = await startInstances(runner, 'servers/fastify-users', env, 2)
 * await load({ base: group.bases, path: '/users/me', connections: 50, durationSeconds: 3 })
 * await group.stop()
 * ```
 */
export async function startInstances(
  runner: Runner,
  entry: Entry,
  env: Record<string, string>,
  count: number,
): Promise<ServerGroup> {
  const servers: RunningServer[] = []
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer(runner, entry, env))
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()))
    throw err
  }
  return {
    pid: servers[0]!.pid,
    base: servers[0]!.base,
    bases: servers.map((s) => s.base),
    peakRssMiB: () => Math.max(...servers.map((s) => s.peakRssMiB())),
    peaksMiB: () => servers.flatMap((s) => s.peaksMiB()),
    cpuSeconds: () => servers.reduce((sum, s) => sum + s.cpuSeconds(), 0),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()))
    },
  }
}
