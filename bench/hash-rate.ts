/**
 * The raw argon2id rate: the limit for `POST /login` and `POST /register`. It hashes (then verifies) with
 * the library's default parameters (m=19456 KiB, t=2, p=1) through `@node-rs/argon2` directly, keeping as
 * many operations in flight as the library's hash queue allows (`defaultHashConcurrency()`: the thread
 * pool size minus one, at most the number of CPUs), for a fixed time, in its own process.
 *
 * Environment: `BENCH_DURATION_MS` (per phase; default 3000), `BENCH_HASH_CONCURRENCY` (default: the
 * library's `defaultHashConcurrency()`). Prints one JSON line:
 * `{ concurrency, params, hashPerSecond, verifyPerSecond, hashCpuUs, verifyCpuUs, peakRssMiB }`
 * (CPU time per operation in microseconds, all threads).
 *
 * @module
 */
import { hash, verify } from '@node-rs/argon2'
import { Argon2idHasher } from '../src/password/argon2-hasher.js'
import { defaultHashConcurrency } from '../src/password/hash-queue.js'
import { BENCH_PASSWORD } from './common.js'

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3000)
// BENCH_HASH_CONCURRENCY: the same override the benchmark server passes as `passwordHashing.concurrency`.
const concurrency = Number(process.env.BENCH_HASH_CONCURRENCY) || defaultHashConcurrency()
const { memoryCost, timeCost, parallelism } = new Argon2idHasher()
// Algorithm.Argon2id and Version.V0x13 are ambient const enums in the package's types.
const options = { algorithm: 2, version: 1, memoryCost, timeCost, parallelism } as const

/**
 * Runs `op` with `concurrency` in flight for `durationMs`. Returns operations per second (completed ones)
 * and the process's CPU time per operation in microseconds (all threads: the hashing is on the pool).
 */
async function rate(op: () => Promise<unknown>): Promise<{ perSecond: number; cpuUs: number }> {
  // One untimed round first: the thread pool's threads start, and the allocator warms up.
  await Promise.all(Array.from({ length: concurrency }, op))
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + durationMs
  let done = 0
  let lastEnd = started
  const lane = async () => {
    while (performance.now() < deadline) {
      await op()
      done++
      lastEnd = performance.now()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  const cpu = process.cpuUsage(cpuBefore)
  return { perSecond: (done / (lastEnd - started)) * 1000, cpuUs: (cpu.user + cpu.system) / done }
}

const stored = await hash(BENCH_PASSWORD, options)
const hashed = await rate(() => hash(BENCH_PASSWORD, options))
const verified = await rate(() => verify(stored, BENCH_PASSWORD))
// maxRSS is the process's peak resident set size in KiB, the same figure as VmHWM.
const peakRssMiB = process.resourceUsage().maxRSS / 1024
process.stdout.write(
  `${JSON.stringify({
    concurrency,
    params: { memoryCost, timeCost, parallelism },
    hashPerSecond: hashed.perSecond,
    verifyPerSecond: verified.perSecond,
    hashCpuUs: hashed.cpuUs,
    verifyCpuUs: verified.cpuUs,
    peakRssMiB,
  })}\n`,
)
