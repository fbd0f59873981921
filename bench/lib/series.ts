/**
 * Series: one server configuration measured once per run, and the measures a scenario runs on it (a
 * GET load, a POST load, a storm with a probe). Scenario modules build their series from these.
 *
 * @module
 */
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import { BENCH_LOGIN_EMAIL, BENCH_PASSWORD, seededEmail } from '../common.js'
import { precomputeHashes, seedUsers } from '../seed.js'
import { config, log, state } from './config.js'
import { type LoadResult, type LoadSpec, load } from './load.js'
import { postgresDatabase, postgresUrl } from './postgres.js'
import { fastifyUsersLogin } from './prepare.js'
import type { Entry, RunningServer } from './processes.js'
import { fmt } from './report.js'

/** Request headers (the credential of a prepared login). */
export type Headers = Record<string, string>

/** What a measure gets: the running server(s), the prepared headers, the run, a unique tag. */
export interface RunContext {
  server: RunningServer & { bases?: readonly string[] }
  headers: Headers
  run: number
  tag: string
}

/** A load's result; `rssMiB` when the measure read the peak RSS itself (before a later part). */
export type MeasureResult = LoadResult & { rssMiB?: number }

/** A load (or two at once) on a running server; produces one or more rows. */
export interface Measure {
  /** Row ids (after the series id) this measure produces, with their labels. */
  rows: Record<string, string>
  /** Set on the loads of a hashing route: they warm up for `BENCH_HASH_WARMUP` seconds more. */
  hashing?: boolean
  run(ctx: RunContext): Promise<Record<string, MeasureResult>>
}

/** A server started fresh for each run, prepared, measured, stopped. */
export interface ServerSeries {
  kind: 'server'
  id: string
  scenarios: number[]
  entry: Entry
  env: () => Record<string, string>
  /** Whether it is a fastify-users server (its peak RSS is held to the target). */
  ours: boolean
  /** Whether it needs the run's PostgreSQL (and is skipped without it). */
  postgres: boolean
  /** Once, before the first run: create and seed the database. */
  setup?: () => Promise<void>
  /** Each run, after the server started: log in, check the answer; returns the auth headers. */
  prepare?: (base: string) => Promise<Headers>
  measures: Measure[]
  /** Server processes sharing the database, loaded round-robin (default 1). */
  instances?: number
  /**
   * Node flags of its own instead of the run's (`''`: Node's defaults): an information series, whose
   * peak RSS is reported beside the others but not held to the target.
   */
  nodeFlags?: string
}

/** The raw argon2id rate, measured in a process of its own. */
export interface HashSeries {
  kind: 'hash'
  id: string
  scenarios: number[]
}

export type Series = ServerSeries | HashSeries

/**
 * The warm-up of a hashing route: `BENCH_HASH_WARMUP` seconds of load, then two requests per connection,
 * all awaited. The time-bound part leaves up to one request per connection in the server's hash queue;
 * the awaited requests queue behind them (the queue is first in, first out), so when they are answered
 * the queue is empty and the measurement starts without a head start.
 */
async function hashWarmup(spec: Omit<LoadSpec, 'durationSeconds'>): Promise<void> {
  if (config.hashWarmupSeconds > 0) await load({ ...spec, durationSeconds: config.hashWarmupSeconds })
  await load({ ...spec, durationSeconds: 0, amount: spec.connections * 2 })
}

/**
 * A warm-up (discarded), then the measured load. Cheap routes warm up for `BENCH_WARMUP` seconds; the
 * hashing routes (`warmup: 'amount'`) as {@link hashWarmup} says.
 */
async function measure(
  spec: Omit<LoadSpec, 'durationSeconds'>,
  warmup: 'time' | 'amount' = 'time',
): Promise<LoadResult> {
  if (warmup === 'amount') await hashWarmup(spec)
  else if (config.warmupSeconds > 0) await load({ ...spec, durationSeconds: config.warmupSeconds })
  return load({ ...spec, durationSeconds: config.durationSeconds })
}

/**
 * A storm and a probe at once: the probe warms up for `BENCH_WARMUP` seconds while the storm's warm-up
 * ({@link hashWarmup}) runs beside it, then both are measured together.
 */
async function measurePair(
  stormSpec: Omit<LoadSpec, 'durationSeconds'>,
  probeSpec: Omit<LoadSpec, 'durationSeconds'>,
): Promise<[LoadResult, LoadResult]> {
  await Promise.all([
    hashWarmup(stormSpec),
    config.warmupSeconds > 0 ? load({ ...probeSpec, durationSeconds: config.warmupSeconds }) : null,
  ])
  // No CPU per request here: the server's CPU time during a storm is mostly hashing.
  const d = config.durationSeconds
  return Promise.all([
    load({ ...stormSpec, durationSeconds: d, cpuSeconds: undefined }),
    load({ ...probeSpec, durationSeconds: d, cpuSeconds: undefined }),
  ])
}

/** The login of the user scenarios 1 to 4 log in as. */
export const loginBody = JSON.stringify({ email: BENCH_LOGIN_EMAIL, password: BENCH_PASSWORD })

/** A body maker: a registration with a new email each time. */
export function uniqueRegistrations(tag: string, extra: Record<string, string> = {}): () => string {
  let i = 0
  return () => JSON.stringify({ ...extra, email: `reg-${tag}-${i++}@bench.test`, password: BENCH_PASSWORD })
}

/** A body maker: the login of a random one of the first `users` seeded users. */
export function randomLogins(users: number): () => string {
  return () => JSON.stringify({ email: seededEmail(randomInt(users)), password: BENCH_PASSWORD })
}

/** `GET path` with the prepared headers, 50 connections. */
export const getMe = (label: string, path = '/users/me', connections = config.connections.get): Measure => ({
  rows: { get: label },
  run: async ({ server, headers }) => ({
    get: await measure({
      base: server.bases ?? server.base,
      path,
      headers,
      connections,
      cpuSeconds: server.cpuSeconds,
    }),
  }),
})

/** A POST of a hashing route (16 connections), warmed up by amount. */
export const postLoad = (
  key: string,
  label: string,
  path: string,
  body: (ctx: RunContext) => string | (() => string),
): Measure => ({
  rows: { [key]: label },
  hashing: true,
  run: async (ctx) => ({
    [key]: await measure(
      {
        base: ctx.server.bases ?? ctx.server.base,
        cpuSeconds: ctx.server.cpuSeconds,
        path,
        method: 'POST',
        // One Origin cannot name every instance's port: across instances, say what a browser says.
        headers: ctx.server.bases ? { 'sec-fetch-site': 'same-origin' } : { origin: ctx.server.base },
        body: body(ctx),
        connections: config.connections.hashing,
      },
      'amount',
    ),
  }),
})

/** Scenario 4: the probe alone, then the probe during a storm of hashing requests. */
export const storm = (
  probePath: string,
  stormPath: string,
  stormBody: string | (() => string),
  labels: Record<string, string>,
): Measure => ({
  rows: labels,
  hashing: true,
  run: async ({ server, headers }: RunContext) => {
    const probe = {
      base: server.base,
      cpuSeconds: server.cpuSeconds,
      path: probePath,
      headers,
      connections: config.connections.stormProbe,
    }
    const quiet = await measure(probe)
    const quietRss = server.peakRssMiB()
    const [logins, during] = await measurePair(
      {
        base: server.base,
        path: stormPath,
        method: 'POST',
        headers: { origin: server.base },
        body: stormBody,
        connections: config.connections.stormLogin,
      },
      probe,
    )
    return { quiet: { ...quiet, rssMiB: quietRss }, probe: during, storm: logins }
  },
})

/** Logins of random users among the 1,000 seeded ones (see scenario 3 for why not one user). */
export const login = (label: string) =>
  postLoad('login', label, '/login', () => randomLogins(config.smallUsers))

/** Registrations with unique emails. */
export const register = (label: string) =>
  postLoad('register', label, '/register', ({ tag }) => uniqueRegistrations(tag))

let hashes: Promise<string[]> | null = null
const seeded = new Map<string, Promise<void>>()

/** Seeds `users` users (plus the login user) into a database once per run, whoever asks first. */
function seedOnce(url: string, users: number, label: string): Promise<void> {
  let done = seeded.get(url)
  if (!done) {
    done = (async () => {
      hashes ??= precomputeHashes(4)
      const result = await seedUsers(url, {
        count: users,
        hashes: await hashes,
        extraEmails: [BENCH_LOGIN_EMAIL],
      })
      state.seeding.push({ database: label, users, ...result })
      log(`seeded ${label}: ${result.inserted.toLocaleString('en-US')} users in ${fmt(result.seconds)} s`)
    })()
    seeded.set(url, done)
  }
  return done
}

/** Where a fastify-users series keeps its users. */
export type Database = { kind: 'sqlite' } | { kind: 'postgres'; name: string }

/** The URL of a series' database (a SQLite file of its own, or one of the run's PostgreSQL databases). */
export function databaseUrl(id: string, database: Database): string {
  return database.kind === 'sqlite' ? `sqlite:${join(state.tmp, `${id}.db`)}` : postgresUrl(database.name)
}

/**
 * A fastify-users server series. Its authentication cache is on as an application would turn it on:
 * by default on PostgreSQL (its `LISTEN/NOTIFY` bus, or Redis pub/sub with `redis`), and with
 * `cache: { singleInstance: true }` on SQLite, whose file one process serves. `BENCH_AUTH_CACHE=off`
 * turns it off everywhere, for comparison.
 */
export function fastifyUsers(
  id: string,
  scenarios: number[],
  options: {
    database: Database
    backend: 'session' | 'jwt'
    users: number
    /** Log in before measuring (and check the answer, the cache and Redis): the GET series. */
    login?: boolean
    measures: Measure[]
    /** Extra environment of the server (for example `BENCH_LOGIN_FREE_ATTEMPTS`). */
    env?: Record<string, string>
    /** Pass the run's Redis URL as the plugin's `redis` option, with a key prefix of the series. */
    redis?: boolean
    instances?: number
    /** Node flags of its own (see {@link ServerSeries.nodeFlags}). */
    nodeFlags?: string
  },
): ServerSeries {
  const { database } = options
  const redis = options.redis && config.redisUrl ? config.redisUrl : null
  return {
    kind: 'server',
    id,
    scenarios,
    entry: 'servers/fastify-users',
    ours: true,
    postgres: database.kind === 'postgres',
    env: () => ({
      BENCH_DATABASE_URL: databaseUrl(id, database),
      BENCH_AUTH_BACKEND: options.backend,
      BENCH_AUTH_CACHE: !config.authCache
        ? 'off'
        : database.kind === 'sqlite'
          ? 'single-instance'
          : 'default',
      ...(redis ? { BENCH_REDIS_URL: redis, BENCH_REDIS_PREFIX: redisPrefix(id) } : {}),
      ...options.env,
    }),
    ...(options.instances ? { instances: options.instances } : {}),
    ...(options.nodeFlags !== undefined ? { nodeFlags: options.nodeFlags } : {}),
    setup: async () => {
      const url =
        database.kind === 'sqlite' ? databaseUrl(id, database) : await postgresDatabase(database.name)
      await seedOnce(url, options.users, database.kind === 'sqlite' ? id : `postgres ${database.name}`)
    },
    prepare: options.login
      ? (base) =>
          fastifyUsersLogin(base, options.backend, {
            databaseUrl: databaseUrl(id, database),
            ...(redis ? { redisPrefix: redisPrefix(id) } : {}),
          })
      : undefined,
    measures: options.measures,
  }
}

/** The Redis key prefix of a series' servers (so the run can find, check and delete its keys). */
export function redisPrefix(id: string): string {
  return `${runRedisPrefix()}${id}:`
}

/** What every Redis key of this run starts with. */
export function runRedisPrefix(): string {
  return `fu-bench-${state.startedAt.getTime().toString(36)}-`
}

/** A better-auth server series on a SQLite file of its own. */
export function betterAuth(
  id: string,
  scenarios: number[],
  prepare: ServerSeries['prepare'],
  measures: Measure[],
): ServerSeries {
  return {
    kind: 'server',
    id,
    scenarios,
    entry: 'servers/better-auth',
    ours: false,
    postgres: false,
    env: () => ({ BENCH_SQLITE_FILE: join(state.tmp, `${id}.db`) }),
    prepare,
    measures,
  }
}
