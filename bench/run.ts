/**
 * `npm run bench`: the cost of fastify-users per request, side by side with its limits (a bare Fastify
 * route, the raw argon2id rate) and with better-auth, measured the same way every time.
 *
 * Each server runs in its own process (`bench/servers/*.ts`, bundled to plain JavaScript, started with
 * `PORT=0`); this process seeds its database directly through SQL, loads it over 127.0.0.1 with
 * autocannon, reads its peak RSS (`VmHWM`) after each measurement, and stops it. Runs are interleaved:
 * run 1 of every series, then run 2 of every series, ..., so slow drifts of a shared machine spread over
 * all series instead of landing on one. Each table shows min / median / max over the runs; ratios are
 * ratios of medians. Raw results go to `bench/results/<timestamp>.json` (git-ignored) and the tables to
 * `bench/results/latest.md`.
 *
 * Environment (all optional):
 * - `BENCH_SCENARIOS=1,2`: run only these scenarios (and the baselines they need). Default: 1 to 5.
 * - `BENCH_RUNS` (3), `BENCH_DURATION` (seconds per measurement, 3), `BENCH_WARMUP` (seconds, 1).
 * - `BENCH_BUDGET_SECONDS` (540): runs that would end past it are skipped, and the whole benchmark is
 *   stopped 60 s past it whatever happens.
 * - `BENCH_LARGE_USERS` (1000000): the size of scenario 5's large table.
 * - `FASTIFY_USERS_BENCH_POSTGRES_URL`: an admin URL (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
 *   scenarios 1 to 3 then also run on PostgreSQL, in a fresh database created here and dropped after.
 * - `BENCH_RUNNER=tsx`: run the servers through tsx instead of bundling them (the loader adds ~24 MiB).
 * - `BENCH_HASH_CONCURRENCY=N`: for investigations, the servers' `passwordHashing.concurrency` and the
 *   raw hash rate's thread count (default: the library's `defaultHashConcurrency()`).
 * - `BENCH_CPU_PROF=<dir>`: every child process writes a V8 CPU profile there.
 * - `FASTIFY_USERS_BENCH_REDIS_URL`: a Redis URL; scenario 6 (PostgreSQL + Redis) runs with it, and the
 *   two-instance scenario 7 shares it. Scenarios 6 and 7 need PostgreSQL; they are skipped with a line
 *   saying why when it (or the plugin's `redis` option) is missing.
 *
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { defaultHashConcurrency } from '../src/password/hash-queue.js'
import { BENCH_LOGIN_EMAIL, BENCH_PASSWORD, seededEmail } from './common.js'
import { pluginHasRedisOption, startInstances } from './lib/instances.js'
import { type LoadResult, type LoadSpec, load } from './lib/load.js'
import {
  bundleEntries,
  type Entry,
  killAllChildren,
  liveChildren,
  ROOT,
  type Runner,
  type RunningServer,
  runOnce,
  startServer,
  tsxRunner,
} from './lib/processes.js'
import {
  fmt,
  type RatioResult,
  type RowSummary,
  ratioTable,
  type Sample,
  summarize,
  type TableRow,
  table,
} from './lib/report.js'
import { precomputeHashes, type SeedResult, seedUsers } from './seed.js'

// ------------------------------------------------------------------------------------------------------
// Configuration

function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}`)
  return value
}

function scenariosEnv(): Set<number> {
  const raw = process.env.BENCH_SCENARIOS
  if (!raw) return new Set([1, 2, 3, 4, 5, 6, 7])
  const list = raw.split(',').map((s) => Number(s.trim()))
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 7))
    throw new Error('BENCH_SCENARIOS must list scenario numbers from 1 to 7, e.g. 1,2')
  return new Set(list)
}

const config = {
  runs: Math.round(numberEnv('BENCH_RUNS', 3, 1)),
  durationSeconds: numberEnv('BENCH_DURATION', 3, 1),
  warmupSeconds: numberEnv('BENCH_WARMUP', 1, 0),
  budgetSeconds: numberEnv('BENCH_BUDGET_SECONDS', 540, 30),
  scenarios: scenariosEnv(),
  smallUsers: 1000,
  largeUsers: Math.round(numberEnv('BENCH_LARGE_USERS', 1_000_000, 1000)),
  postgres: Boolean(process.env.FASTIFY_USERS_BENCH_POSTGRES_URL),
  redisUrl: process.env.FASTIFY_USERS_BENCH_REDIS_URL || null,
  runner: (process.env.BENCH_RUNNER === 'tsx' ? 'tsx' : 'bundle') as 'tsx' | 'bundle',
  /**
   * Connections per load: 50 for the cheap GETs (the load the issue's reference numbers used); 16 for
   * the hashing routes, enough to keep every hashing slot busy (the queue runs 2 at once here) while
   * latency stays far from autocannon's 10 s timeout even at better-auth's ~11 sign-ups/s; during the
   * storm, 32 login connections (16x the hashing slots) against a 10-connection probe.
   */
  connections: { get: 50, hashing: 16, stormLogin: 32, stormProbe: 10 },
}

const MIB_TARGET = 150

// ------------------------------------------------------------------------------------------------------
// State

const startedAt = new Date()
const started = performance.now()
const elapsed = () => (performance.now() - started) / 1000
const samples = new Map<string, Sample[]>()
const errors: Array<{ series: string; run: number; error: string }> = []
const skipped: Array<{ series: string; run: number; reason: string }> = []
const seeding: Array<{ database: string; users: number } & SeedResult> = []
const bodyBytes: Record<string, number> = {}
const hashRuns: unknown[] = []
let aborted = false
let postgresNote: string | null = config.postgres ? null : 'FASTIFY_USERS_BENCH_POSTGRES_URL not set'
/** Why scenario 6 (Redis) does not run, or null when it does. */
const redisNote: string | null = !config.redisUrl
  ? 'FASTIFY_USERS_BENCH_REDIS_URL not set'
  : !config.postgres
    ? 'needs FASTIFY_USERS_BENCH_POSTGRES_URL too'
    : !pluginHasRedisOption()
      ? 'the plugin has no `redis` option in this checkout yet'
      : null

const tmp = mkdtempSync(join(os.tmpdir(), 'fastify-users-bench-'))
const resultsDir = join(ROOT, 'bench', 'results')
let postgresDb: { admin: string; name: string; url: string } | null = null

function log(message: string): void {
  process.stderr.write(`[${elapsed().toFixed(0).padStart(4)} s] ${message}\n`)
}

function addSample(rowId: string, run: number, result: LoadResult, rssMiB: number, loadAverage: number) {
  const list = samples.get(rowId) ?? []
  list.push({
    run,
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    rssMiB,
    cpuUsPerRequest: result.cpuUsPerRequest,
    ok: result.ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    loadAverage,
  })
  samples.set(rowId, list)
  const failed = result.non2xx + result.errors + result.timeouts
  log(
    `  ${rowId}: ${fmt(result.rps)} req/s, p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms, ` +
      `CPU ${fmt(result.cpuUsPerRequest)} µs/req, peak RSS ${fmt(rssMiB)} MiB${failed > 0 ? `, ${failed} FAILED ${JSON.stringify(result.statusCodes)}` : ''}`,
  )
}

// ------------------------------------------------------------------------------------------------------
// Loads

type Headers = Record<string, string>

/**
 * A warm-up (discarded), then the measured load. Cheap routes warm up for `BENCH_WARMUP` seconds; the
 * hashing routes (`warmup: 'amount'`) with two requests per connection, all awaited, so no request of the
 * warm-up is still queued for a hash when the measurement starts (a time-bound warm-up would leave one
 * per connection in the server's hash queue, a 16-request head start against the measurement).
 */
async function measure(
  spec: Omit<LoadSpec, 'durationSeconds'>,
  warmup: 'time' | 'amount' = 'time',
): Promise<LoadResult> {
  if (warmup === 'amount') await load({ ...spec, durationSeconds: 0, amount: spec.connections * 2 })
  else if (config.warmupSeconds > 0) await load({ ...spec, durationSeconds: config.warmupSeconds })
  return load({ ...spec, durationSeconds: config.durationSeconds })
}

/**
 * A storm and a probe at once: the probe warms up for `BENCH_WARMUP` seconds while the storm's warm-up
 * (two requests per connection, awaited) runs beside it, then both are measured together.
 */
async function measurePair(
  stormSpec: Omit<LoadSpec, 'durationSeconds'>,
  probeSpec: Omit<LoadSpec, 'durationSeconds'>,
): Promise<[LoadResult, LoadResult]> {
  await Promise.all([
    load({ ...stormSpec, durationSeconds: 0, amount: stormSpec.connections * 2 }),
    config.warmupSeconds > 0 ? load({ ...probeSpec, durationSeconds: config.warmupSeconds }) : null,
  ])
  // No CPU per request here: the server's CPU time during a storm is mostly hashing.
  const d = config.durationSeconds
  return Promise.all([
    load({ ...stormSpec, durationSeconds: d, cpuSeconds: undefined }),
    load({ ...probeSpec, durationSeconds: d, cpuSeconds: undefined }),
  ])
}

const loginBody = JSON.stringify({ email: BENCH_LOGIN_EMAIL, password: BENCH_PASSWORD })

function uniqueRegistrations(tag: string, extra: Record<string, string> = {}): () => string {
  let i = 0
  return () => JSON.stringify({ ...extra, email: `reg-${tag}-${i++}@bench.test`, password: BENCH_PASSWORD })
}

function randomLogins(users: number): () => string {
  return () => JSON.stringify({ email: seededEmail(randomInt(users)), password: BENCH_PASSWORD })
}

/** A same-origin POST, as a browser on the app's own page sends it (better-auth refuses one without Origin). */
async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: new URL(url).origin },
    body: JSON.stringify(body),
  })
}

function cookieNamed(response: Response, name: string): string {
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`))
  if (!cookie) throw new Error(`no ${name} cookie in the response`)
  return cookie
}

/** GETs `path` once with `headers`; checks it is 200 and names the login user; returns its size. */
async function checkBody(base: string, path: string, headers: Headers): Promise<number> {
  const response = await fetch(`${base}${path}`, { headers })
  const text = await response.text()
  if (response.status !== 200 || !text.includes(BENCH_LOGIN_EMAIL))
    throw new Error(`GET ${path} answered ${response.status}: ${text.slice(0, 200)}`)
  return Buffer.byteLength(text)
}

async function fastifyUsersSession(base: string): Promise<Headers> {
  const response = await post(`${base}/login`, { email: BENCH_LOGIN_EMAIL, password: BENCH_PASSWORD })
  if (response.status !== 200) throw new Error(`POST /login answered ${response.status}`)
  const headers = { cookie: cookieNamed(response, 'fastify-users-session') }
  bodyBytes.usersMe = await checkBody(base, '/users/me', headers)
  return headers
}

async function fastifyUsersJwt(base: string): Promise<Headers> {
  const response = await post(`${base}/login`, { email: BENCH_LOGIN_EMAIL, password: BENCH_PASSWORD })
  const body = (await response.json()) as { accessToken?: string }
  if (response.status !== 200 || !body.accessToken) throw new Error(`POST /login answered ${response.status}`)
  const headers = { authorization: `Bearer ${body.accessToken}` }
  await checkBody(base, '/users/me', headers)
  return headers
}

async function betterAuthUser(base: string): Promise<Headers> {
  const signUp = await post(`${base}/api/auth/sign-up/email`, {
    name: 'Bench User',
    email: BENCH_LOGIN_EMAIL,
    password: BENCH_PASSWORD,
  })
  // 422: the user exists from an earlier run on the same file.
  if (signUp.status !== 200 && signUp.status !== 422)
    throw new Error(`better-auth sign-up answered ${signUp.status}: ${await signUp.text()}`)
  return {}
}

async function betterAuthSession(base: string): Promise<Headers> {
  await betterAuthUser(base)
  const response = await post(`${base}/api/auth/sign-in/email`, {
    email: BENCH_LOGIN_EMAIL,
    password: BENCH_PASSWORD,
  })
  if (response.status !== 200) throw new Error(`better-auth sign-in answered ${response.status}`)
  const headers = { cookie: cookieNamed(response, 'better-auth.session_token') }
  // get-session answers 200 with `null` for a bad cookie: check it names the user.
  await checkBody(base, '/api/auth/get-session', headers)
  return headers
}

// ------------------------------------------------------------------------------------------------------
// Series: one server configuration, measured once per run

interface RunContext {
  server: RunningServer & { bases?: readonly string[] }
  headers: Headers
  run: number
  tag: string
}

/** A load's result; `rssMiB` when the measure read the peak RSS itself (before a later part). */
type MeasureResult = LoadResult & { rssMiB?: number }

interface Measure {
  /** Row ids (after the series id) this measure produces, with their labels. */
  rows: Record<string, string>
  run(ctx: RunContext): Promise<Record<string, MeasureResult>>
}

interface ServerSeries {
  kind: 'server'
  id: string
  scenarios: number[]
  entry: Entry
  env: () => Record<string, string>
  /** Once, before the first run: create and seed the database. */
  setup?: () => Promise<void>
  /** Each run, after the server started: log in, check the answer; returns the auth headers. */
  prepare?: (base: string) => Promise<Headers>
  measures: Measure[]
  /** Server processes sharing the database, loaded round-robin (default 1). */
  instances?: number
}

interface HashSeries {
  kind: 'hash'
  id: string
  scenarios: number[]
}

type Series = ServerSeries | HashSeries

const getMe = (label: string, path = '/users/me', connections = config.connections.get): Measure => ({
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

const postLoad = (
  key: string,
  label: string,
  path: string,
  body: (ctx: RunContext) => string | (() => string),
): Measure => ({
  rows: { [key]: label },
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
const storm = (
  probePath: string,
  stormPath: string,
  stormBody: string | (() => string),
  labels: Record<string, string>,
) => ({
  rows: labels,
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

const sqliteUrl = (name: string) => `sqlite:${join(tmp, `${name}.db`)}`
let hashes: string[] = []

async function seed(url: string, users: number, label: string): Promise<void> {
  const result = await seedUsers(url, { count: users, hashes, extraEmails: [BENCH_LOGIN_EMAIL] })
  seeding.push({ database: label, users, ...result })
  log(`seeded ${label}: ${result.inserted.toLocaleString('en-US')} users in ${fmt(result.seconds)} s`)
}

function fastifyUsers(
  id: string,
  scenarios: number[],
  options: {
    database: 'sqlite' | 'postgres'
    backend: 'session' | 'jwt'
    users: number
    prepare?: (base: string) => Promise<Headers>
    measures: Measure[]
    /** Extra environment of the server (for example `BENCH_LOGIN_FREE_ATTEMPTS`). */
    env?: Record<string, string>
    /** Pass the run's Redis URL as the plugin's `redis` option. */
    redis?: boolean
    instances?: number
  },
): ServerSeries {
  const url = options.database === 'sqlite' ? sqliteUrl(id) : null
  return {
    kind: 'server',
    id,
    scenarios,
    entry: 'servers/fastify-users',
    env: () => ({
      BENCH_DATABASE_URL: url ?? postgresDb!.url,
      BENCH_AUTH_BACKEND: options.backend,
      ...(options.redis && config.redisUrl ? { BENCH_REDIS_URL: config.redisUrl } : {}),
      ...options.env,
    }),
    ...(options.instances ? { instances: options.instances } : {}),
    setup: url ? () => seed(url, options.users, id) : undefined,
    prepare: options.prepare,
    measures: options.measures,
  }
}

function betterAuth(id: string, scenarios: number[], prepare: ServerSeries['prepare'], measures: Measure[]) {
  return {
    kind: 'server',
    id,
    scenarios,
    entry: 'servers/better-auth',
    env: () => ({ BENCH_SQLITE_FILE: join(tmp, `${id}.db`) }),
    prepare,
    measures,
  } satisfies ServerSeries
}

const register = (label: string) =>
  postLoad('register', label, '/register', ({ tag }) => uniqueRegistrations(tag))
/**
 * Logins of random users among the 1,000 seeded ones. Not one user: the login throttle (on by default)
 * counts an attempt as a failure until its password is checked, so more than `freeAttempts` (5)
 * concurrent logins of one identifier are refused with 429 by design, as parallel guesses would be.
 */
const login = (label: string) => postLoad('login', label, '/login', () => randomLogins(config.smallUsers))

function allSeries(): Series[] {
  const list: Series[] = [
    {
      kind: 'server',
      id: 'bare',
      scenarios: redisNote === null ? [1, 2, 6] : [1, 2],
      entry: 'servers/bare',
      env: () => ({}),
      prepare: async (base) => {
        bodyBytes.bare = await checkBody(base, '/users/me', {})
        return {}
      },
      measures: [getMe('bare Fastify route, same body (the limit)')],
    },
    { kind: 'hash', id: 'hash', scenarios: redisNote === null ? [3, 6] : [3] },
    fastifyUsers('sqlite-session', [1], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      prepare: fastifyUsersSession,
      measures: [getMe('fastify-users, session, SQLite')],
    }),
    fastifyUsers('sqlite-jwt', [2], {
      database: 'sqlite',
      backend: 'jwt',
      users: config.smallUsers,
      prepare: fastifyUsersJwt,
      measures: [getMe('fastify-users, JWT, SQLite')],
    }),
    fastifyUsers('sqlite-login', [3], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      measures: [login('fastify-users POST /login (random users), SQLite')],
    }),
    // The issue's literal scenario: one user, 16 connections at once. The default throttle refuses more than 5
    // concurrent attempts of one identifier by design, so this server allows 100 (the ASVS ceiling): the row
    // measures the login path, the throttle's queries included.
    fastifyUsers('sqlite-login-one', [3], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      env: { BENCH_LOGIN_FREE_ATTEMPTS: '100' },
      measures: [
        postLoad(
          'login',
          'fastify-users POST /login (one user, 100 free attempts), SQLite',
          '/login',
          () => loginBody,
        ),
      ],
    }),
    fastifyUsers('sqlite-register', [3], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      measures: [register('fastify-users POST /register, SQLite')],
    }),
    fastifyUsers('sqlite-storm', [4], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      prepare: fastifyUsersSession,
      measures: [
        storm('/users/me', '/login', randomLogins(config.smallUsers), {
          quiet: `fastify-users GET /users/me alone (${config.connections.stormProbe} conn.)`,
          probe: `fastify-users GET /users/me during the login storm (${config.connections.stormProbe} conn.)`,
          storm: `fastify-users POST /login storm, random users (${config.connections.stormLogin} conn.)`,
        }),
      ],
    }),
    fastifyUsers('sqlite-1k', [5], {
      database: 'sqlite',
      backend: 'session',
      users: config.smallUsers,
      prepare: fastifyUsersSession,
      measures: [
        getMe(`GET /users/me, ${config.smallUsers.toLocaleString('en-US')} users`),
        postLoad(
          'login',
          `POST /login (random users), ${config.smallUsers.toLocaleString('en-US')} users`,
          '/login',
          () => randomLogins(config.smallUsers),
        ),
      ],
    }),
    fastifyUsers('sqlite-large', [5], {
      database: 'sqlite',
      backend: 'session',
      users: config.largeUsers,
      prepare: fastifyUsersSession,
      measures: [
        getMe(`GET /users/me, ${config.largeUsers.toLocaleString('en-US')} users`),
        postLoad(
          'login',
          `POST /login (random users), ${config.largeUsers.toLocaleString('en-US')} users`,
          '/login',
          () => randomLogins(config.largeUsers),
        ),
      ],
    }),
    betterAuth('ba-session', [1], betterAuthSession, [
      getMe('better-auth get-session, SQLite', '/api/auth/get-session'),
    ]),
    betterAuth('ba-sign-in', [3], betterAuthUser, [
      postLoad('login', 'better-auth sign-in (one user), SQLite', '/api/auth/sign-in/email', () => loginBody),
    ]),
    betterAuth('ba-sign-up', [3], undefined, [
      postLoad('register', 'better-auth sign-up, SQLite', '/api/auth/sign-up/email', ({ tag }) =>
        uniqueRegistrations(tag, { name: 'Bench User' }),
      ),
    ]),
    betterAuth('ba-storm', [4], betterAuthSession, [
      storm('/api/auth/get-session', '/api/auth/sign-in/email', loginBody, {
        quiet: `better-auth get-session alone (${config.connections.stormProbe} conn.)`,
        probe: `better-auth get-session during the sign-in storm (${config.connections.stormProbe} conn.)`,
        storm: `better-auth sign-in storm, one user (${config.connections.stormLogin} conn.)`,
      }),
    ]),
  ]
  if (config.postgres) {
    list.push(
      fastifyUsers('pg-session', oneInstance === 'pg' ? [1, 7] : [1], {
        database: 'postgres',
        backend: 'session',
        users: config.smallUsers,
        prepare: fastifyUsersSession,
        measures: [getMe('fastify-users, session, PostgreSQL')],
      }),
      fastifyUsers('pg-jwt', [2], {
        database: 'postgres',
        backend: 'jwt',
        users: config.smallUsers,
        prepare: fastifyUsersJwt,
        measures: [getMe('fastify-users, JWT, PostgreSQL')],
      }),
      fastifyUsers('pg-login', oneInstance === 'pg' ? [3, 7] : [3], {
        database: 'postgres',
        backend: 'session',
        users: config.smallUsers,
        measures: [login('fastify-users POST /login (random users), PostgreSQL')],
      }),
      fastifyUsers('pg-register', [3], {
        database: 'postgres',
        backend: 'session',
        users: config.smallUsers,
        measures: [register('fastify-users POST /register, PostgreSQL')],
      }),
      ...scaleSeries(),
    )
  }
  return list.filter((s) => s.scenarios.some((n) => config.scenarios.has(n)))
}

/**
 * Scenario 6, PostgreSQL + Redis (when the run has a Redis URL and the plugin takes it), and scenario 7,
 * two instances on the same PostgreSQL (+ Redis) behind one round-robin client. Scenario 7's one-instance
 * rows are the same configuration's single-instance series (Redis when scenario 6 runs, else scenario 1's
 * and 3's PostgreSQL ones), measured in the same run.
 */
function scaleSeries(): ServerSeries[] {
  const redis = redisNote === null
  const where = redis ? 'PostgreSQL + Redis' : 'PostgreSQL'
  const list: ServerSeries[] = []
  if (redis)
    list.push(
      fastifyUsers('redis-session', [6, 7], {
        database: 'postgres',
        backend: 'session',
        users: config.smallUsers,
        redis: true,
        prepare: fastifyUsersSession,
        measures: [getMe('fastify-users, session, PostgreSQL + Redis')],
      }),
      fastifyUsers('redis-jwt', [6], {
        database: 'postgres',
        backend: 'jwt',
        users: config.smallUsers,
        redis: true,
        prepare: fastifyUsersJwt,
        measures: [getMe('fastify-users, JWT, PostgreSQL + Redis')],
      }),
      fastifyUsers('redis-login', [6, 7], {
        database: 'postgres',
        backend: 'session',
        users: config.smallUsers,
        redis: true,
        measures: [login('fastify-users POST /login (random users), PostgreSQL + Redis')],
      }),
    )
  list.push(
    fastifyUsers('x2-session', [7], {
      database: 'postgres',
      backend: 'session',
      users: config.smallUsers,
      redis,
      instances: 2,
      prepare: fastifyUsersSession,
      measures: [getMe(`fastify-users, session, two instances, ${where}`)],
    }),
    fastifyUsers('x2-login', [7], {
      database: 'postgres',
      backend: 'session',
      users: config.smallUsers,
      redis,
      instances: 2,
      measures: [login(`fastify-users POST /login (random users), two instances, ${where}`)],
    }),
  )
  return list
}

/** Whether a series runs on the run's PostgreSQL database (and is skipped without it). */
const onPostgres = (s: Series) => /^(pg|redis|x2)-/.test(s.id)

/** Scenario 7's single-instance rows: the Redis series when scenario 6 runs, else PostgreSQL's. */
const oneInstance = redisNote === null ? 'redis' : 'pg'

function estimateSeconds(series: Series): number {
  const load = config.warmupSeconds + config.durationSeconds
  if (series.kind === 'hash') return 2 * config.durationSeconds + 2
  const loads = series.measures.reduce((n, m) => n + Object.keys(m.rows).length - (m.rows.storm ? 1 : 0), 0)
  return 3 + loads * load
}

async function runSeries(series: Series, run: number, runner: Runner): Promise<void> {
  if (series.kind === 'hash') {
    const loadAverage = os.loadavg()[0]!
    const result = await runOnce<{
      hashPerSecond: number
      verifyPerSecond: number
      hashCpuUs: number
      verifyCpuUs: number
      peakRssMiB: number
      concurrency: number
    }>(runner, 'hash-rate', { BENCH_DURATION_MS: String(config.durationSeconds * 1000) }, 60_000)
    hashRuns.push({ run, ...result })
    const row = (rps: number, cpuUsPerRequest: number): LoadResult => ({
      rps,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      ok: Math.round(rps * config.durationSeconds),
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      durationSeconds: config.durationSeconds,
      statusCodes: {},
      cpuUsPerRequest,
    })
    addSample('hash/hash', run, row(result.hashPerSecond, result.hashCpuUs), result.peakRssMiB, loadAverage)
    addSample(
      'hash/verify',
      run,
      row(result.verifyPerSecond, result.verifyCpuUs),
      result.peakRssMiB,
      loadAverage,
    )
    return
  }
  const server =
    (series.instances ?? 1) > 1
      ? await startInstances(runner, series.entry, series.env(), series.instances!)
      : await startServer(runner, series.entry, series.env())
  try {
    const headers = series.prepare ? await series.prepare(server.base) : {}
    const tag = `${series.id}-${run}-${randomBytes(3).toString('hex')}`
    for (const m of series.measures) {
      const loadAverage = os.loadavg()[0]!
      const results = await m.run({ server, headers, run, tag })
      const rss = server.peakRssMiB()
      for (const [key, result] of Object.entries(results))
        addSample(`${series.id}/${key}`, run, result, result.rssMiB ?? rss, loadAverage)
    }
  } finally {
    await server.stop()
  }
}

// ------------------------------------------------------------------------------------------------------
// PostgreSQL: a fresh database for the benchmark, dropped after

async function createPostgresDatabase(): Promise<void> {
  const admin = process.env.FASTIFY_USERS_BENCH_POSTGRES_URL!
  const { default: pg } = await import('pg')
  const name = `fu_bench_${randomBytes(4).toString('hex')}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(`create database ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(admin)
  url.pathname = `/${name}`
  postgresDb = { admin, name, url: url.toString() }
  log(`created PostgreSQL database ${name}`)
}

async function dropPostgresDatabase(): Promise<void> {
  if (!postgresDb) return
  const { admin, name } = postgresDb
  postgresDb = null
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: admin })
  try {
    await client.connect()
    await client.query(`drop database if exists ${name} with (force)`)
    log(`dropped PostgreSQL database ${name}`)
  } catch (err) {
    log(`could not drop PostgreSQL database ${name}: ${(err as Error).message}`)
  } finally {
    await client.end().catch(() => {})
  }
}

// ------------------------------------------------------------------------------------------------------
// Report

function summaries(): Map<string, RowSummary> {
  return new Map([...samples].map(([id, list]) => [id, summarize(list)]))
}

function rowLabels(series: Series[]): Map<string, string> {
  const labels = new Map<string, string>()
  for (const s of series) {
    if (s.kind === 'hash') {
      const threads = `${Number(process.env.BENCH_HASH_CONCURRENCY) || defaultHashConcurrency()} threads`
      labels.set('hash/hash', `raw argon2id hash, ${threads} (the limit)`)
      labels.set('hash/verify', `raw argon2id verify, ${threads}`)
      continue
    }
    for (const m of s.measures)
      for (const [key, label] of Object.entries(m.rows)) labels.set(`${s.id}/${key}`, label)
  }
  return labels
}

const TABLES: Array<{ scenario: number; title: string; rows: string[] }> = [
  {
    scenario: 1,
    title: `Scenario 1: GET /users/me with a session cookie (${config.connections.get} connections)`,
    rows: ['bare/get', 'sqlite-session/get', 'pg-session/get', 'ba-session/get'],
  },
  {
    scenario: 2,
    title: `Scenario 2: GET /users/me with a JWT (${config.connections.get} connections)`,
    rows: ['bare/get', 'sqlite-jwt/get', 'pg-jwt/get'],
  },
  {
    scenario: 3,
    title: `Scenario 3: POST /login (existing users) and POST /register (unique emails), ${config.connections.hashing} connections`,
    rows: [
      'hash/hash',
      'hash/verify',
      'sqlite-login/login',
      'sqlite-login-one/login',
      'sqlite-register/register',
      'pg-login/login',
      'pg-register/register',
      'ba-sign-in/login',
      'ba-sign-up/register',
    ],
  },
  {
    scenario: 4,
    title: 'Scenario 4: a login storm while a second client measures the session check',
    rows: [
      'sqlite-storm/quiet',
      'sqlite-storm/probe',
      'sqlite-storm/storm',
      'ba-storm/quiet',
      'ba-storm/probe',
      'ba-storm/storm',
    ],
  },
  {
    scenario: 5,
    title: `Scenario 5: ${config.smallUsers.toLocaleString('en-US')} vs ${config.largeUsers.toLocaleString('en-US')} users in the table (SQLite, session)`,
    rows: ['sqlite-1k/get', 'sqlite-large/get', 'sqlite-1k/login', 'sqlite-large/login'],
  },
  {
    scenario: 6,
    title: `Scenario 6: PostgreSQL + Redis (GETs: ${config.connections.get} connections; logins: ${config.connections.hashing})`,
    rows: ['bare/get', 'redis-session/get', 'redis-jwt/get', 'hash/hash', 'redis-login/login'],
  },
  {
    scenario: 7,
    title:
      'Scenario 7: two instances on one database behind a round-robin client, beside one instance ' +
      '(CPU µs/req summed over both processes; peak RSS of the larger)',
    rows: [`${oneInstance}-session/get`, 'x2-session/get', `${oneInstance}-login/login`, 'x2-login/login'],
  },
]

function computeRatios(sum: Map<string, RowSummary>): RatioResult[] {
  const median = (id: string, field: 'rps' | 'p99Ms' = 'rps') => sum.get(id)?.[field]?.median ?? null
  const ratios: RatioResult[] = []
  const divide = (
    id: string,
    label: string,
    num: string,
    den: string,
    op: '>=' | '<=' | null,
    target: number | null,
  ) => {
    const a = median(num)
    const b = median(den)
    const value = a === null || b === null || b === 0 ? null : a / b
    // The same ratio from the servers' CPU time per request (den ÷ num): what the rates would be if each
    // server had a core of its own, whatever else the machine was doing.
    const ca = sum.get(num)?.cpuUsPerRequest?.median
    const cb = sum.get(den)?.cpuUsPerRequest?.median
    const byCpu = ca !== undefined && cb !== undefined && ca > 0 ? cb / ca : null
    ratios.push({
      id,
      label,
      value,
      byCpu,
      unit: '×',
      op: op ?? '>=',
      target,
      status: judge(value, op, target),
      formula: `median req/s of ${num} ÷ median req/s of ${den}`,
    })
  }
  const dbs = config.postgres ? (['sqlite', 'pg'] as const) : (['sqlite'] as const)
  const dbName = { sqlite: 'SQLite', pg: 'PostgreSQL' }
  // The issue's targets: a PostgreSQL check pays a round trip the bare route does not, hence lower ones.
  const sessionTarget = { sqlite: 0.4, pg: 0.3 }
  const jwtTarget = { sqlite: 0.5, pg: 0.3 }
  if (config.scenarios.has(1)) {
    for (const db of dbs) {
      divide(
        `1-bare-${db}`,
        `1. session GET ÷ bare route (${dbName[db]})`,
        `${db}-session/get`,
        'bare/get',
        '>=',
        sessionTarget[db],
      )
      divide(
        `1-ba-${db}`,
        `1. session GET ÷ better-auth get-session (${dbName[db]})`,
        `${db}-session/get`,
        'ba-session/get',
        '>=',
        20,
      )
    }
  }
  if (config.scenarios.has(2))
    for (const db of dbs)
      divide(
        `2-bare-${db}`,
        `2. JWT GET ÷ bare route (${dbName[db]})`,
        `${db}-jwt/get`,
        'bare/get',
        '>=',
        jwtTarget[db],
      )
  if (config.scenarios.has(3)) {
    for (const db of dbs) {
      divide(
        `3-login-${db}`,
        `3. login ÷ raw hash rate (${dbName[db]})`,
        `${db}-login/login`,
        'hash/hash',
        '>=',
        0.85,
      )
      divide(
        `3-register-${db}`,
        `3. registration ÷ raw hash rate (${dbName[db]})`,
        `${db}-register/register`,
        'hash/hash',
        '>=',
        0.85,
      )
    }
    divide(
      '3-login-one-sqlite',
      '3. login of one user ÷ raw hash rate (SQLite)',
      'sqlite-login-one/login',
      'hash/hash',
      '>=',
      0.85,
    )
    divide(
      '3-login-ba',
      '3. login ÷ better-auth sign-in (SQLite)',
      'sqlite-login/login',
      'ba-sign-in/login',
      null,
      null,
    )
    divide(
      '3-register-ba',
      '3. registration ÷ better-auth sign-up (SQLite)',
      'sqlite-register/register',
      'ba-sign-up/register',
      null,
      null,
    )
  }
  if (config.scenarios.has(4)) {
    const p99 = (id: string, label: string, row: string, target: number | null) => {
      const value = median(row, 'p99Ms')
      ratios.push({
        id,
        label,
        value,
        byCpu: null,
        unit: 'ms',
        op: '<=',
        target,
        status: judge(value, '<=', target),
        formula: `median p99 of ${row}`,
      })
    }
    p99('4-p99', '4. GET /users/me p99 during the login storm', 'sqlite-storm/probe', 20)
    p99('4-p99-ba', '4. better-auth get-session p99 during the sign-in storm', 'ba-storm/probe', null)
    divide(
      '4-keep',
      '4. session checks kept during the storm (storm ÷ alone)',
      'sqlite-storm/probe',
      'sqlite-storm/quiet',
      null,
      null,
    )
    divide(
      '4-keep-ba',
      '4. better-auth checks kept during the storm (storm ÷ alone)',
      'ba-storm/probe',
      'ba-storm/quiet',
      null,
      null,
    )
  }
  if (config.scenarios.has(5)) {
    divide('5-get', '5. GET /users/me, large ÷ 1,000 users', 'sqlite-large/get', 'sqlite-1k/get', '>=', 0.9)
    divide(
      '5-login',
      '5. POST /login, large ÷ 1,000 users',
      'sqlite-large/login',
      'sqlite-1k/login',
      '>=',
      0.9,
    )
  }
  if (config.scenarios.has(6) && redisNote === null) {
    divide(
      '6-session',
      '6. session GET ÷ bare route (PostgreSQL + Redis)',
      'redis-session/get',
      'bare/get',
      '>=',
      0.3,
    )
    divide('6-jwt', '6. JWT GET ÷ bare route (PostgreSQL + Redis)', 'redis-jwt/get', 'bare/get', '>=', 0.3)
    divide(
      '6-login',
      '6. login ÷ raw hash rate (PostgreSQL + Redis)',
      'redis-login/login',
      'hash/hash',
      '>=',
      0.85,
    )
  }
  if (config.scenarios.has(7) && config.postgres) {
    // Informational: on a machine where the load generator and both instances share the same cores, a
    // second instance cannot add capacity; the CPU ratio says what it costs per request to be two.
    divide(
      '7-session',
      '7. session GET, two instances ÷ one',
      'x2-session/get',
      `${oneInstance}-session/get`,
      null,
      null,
    )
    divide(
      '7-login',
      '7. login, two instances ÷ one',
      'x2-login/login',
      `${oneInstance}-login/login`,
      null,
      null,
    )
  }
  // Peak RSS: the worst run of every fastify-users row, and better-auth's for comparison.
  const rss = (prefixes: string[]) => {
    let worst: number | null = null
    let where = ''
    for (const [id, s] of sum) {
      if (!prefixes.some((p) => id.startsWith(p)) || !s.rssMiB) continue
      if (worst === null || s.rssMiB.max > worst) {
        worst = s.rssMiB.max
        where = id
      }
    }
    return { worst, where }
  }
  const ours = rss(['sqlite-', 'pg-', 'redis-', 'x2-'])
  ratios.push({
    id: 'rss',
    label: `peak RSS, worst fastify-users run (${ours.where || '–'})`,
    value: ours.worst,
    byCpu: null,
    unit: 'MiB',
    op: '<=',
    target: MIB_TARGET,
    status: judge(ours.worst, '<=', MIB_TARGET),
    formula: 'max over runs and rows of VmHWM',
  })
  const theirs = rss(['ba-'])
  ratios.push({
    id: 'rss-ba',
    label: `peak RSS, worst better-auth run (${theirs.where || '–'})`,
    value: theirs.worst,
    byCpu: null,
    unit: 'MiB',
    op: '<=',
    target: null,
    status: judge(theirs.worst, '<=', null),
    formula: 'max over runs and rows of VmHWM',
  })
  return ratios
}

function judge(value: number | null, op: '>=' | '<=' | null, target: number | null): RatioResult['status'] {
  if (value === null) return 'not run'
  if (op === null || target === null) return 'info'
  return (op === '>=' ? value >= target : value <= target) ? 'met' : 'missed'
}

function versionOf(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string
    }
    return pkg.version
  } catch {
    return 'unknown'
  }
}

function machine() {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadAverageAtEnd: os.loadavg(),
  }
}

function report(series: Series[]): { markdown: string; ratios: RatioResult[] } {
  const sum = summaries()
  const labels = rowLabels(series)
  const m = machine()
  const parts: string[] = []
  parts.push(
    `Run of ${startedAt.toISOString()}: ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}; ` +
      `${config.runs} runs × ${config.durationSeconds} s (after ${config.warmupSeconds} s warm-up) per measurement; ` +
      `servers ${config.runner === 'tsx' ? 'through tsx' : 'bundled to JavaScript'}; ` +
      `PostgreSQL: ${postgresNote ?? 'yes'}; Redis: ${redisNote ?? 'yes'}; total ${fmt(elapsed())} s.`,
    '',
    'Cells are min / **median** / max over the runs. Peak RSS is the server process’s VmHWM at the end of the measurement.',
  )
  for (const t of TABLES) {
    if (!config.scenarios.has(t.scenario)) continue
    if (t.scenario === 6 && redisNote !== null) {
      parts.push('', `### ${t.title}`, '', `Not run: ${redisNote}.`)
      continue
    }
    const rows: TableRow[] = t.rows
      .filter((id) => labels.has(id))
      .map((id) => ({ label: labels.get(id)!, summary: sum.get(id) }))
    parts.push('', `### ${t.title}`, '', table(rows))
  }
  const ratios = computeRatios(sum)
  parts.push('', '### Ratios and targets (ratios of medians, same run)', '', ratioTable(ratios))
  if (bodyBytes.bare !== undefined && bodyBytes.usersMe !== undefined && bodyBytes.bare !== bodyBytes.usersMe)
    parts.push('', `Note: the bare body is ${bodyBytes.bare} bytes, /users/me ${bodyBytes.usersMe} bytes.`)
  if (skipped.length > 0)
    parts.push('', `Skipped (time budget): ${skipped.map((s) => `${s.series} run ${s.run}`).join(', ')}.`)
  if (errors.length > 0)
    parts.push('', `Errors: ${errors.map((e) => `${e.series} run ${e.run}: ${e.error}`).join('; ')}.`)
  return { markdown: parts.join('\n'), ratios }
}

function writeResults(series: Series[], finished: boolean): void {
  const { markdown, ratios } = report(series)
  const sum = summaries()
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const rows = Object.fromEntries(
    [...samples].map(([id, list]) => [
      id,
      { label: rowLabels(series).get(id), samples: list, summary: sum.get(id) },
    ]),
  )
  const json = {
    startedAt: startedAt.toISOString(),
    finished,
    elapsedSeconds: elapsed(),
    // The Redis URL may hold a password: the results say only whether it was set.
    config: { ...config, redisUrl: config.redisUrl ? 'set' : null, scenarios: [...config.scenarios] },
    machine: machine(),
    versions: Object.fromEntries(
      [
        'fastify',
        'better-auth',
        'autocannon',
        '@node-rs/argon2',
        'better-sqlite3',
        'kysely',
        'pg',
        'esbuild',
      ].map((n) => [n, versionOf(n)]),
    ),
    postgres: postgresNote ?? 'yes',
    redis: redisNote ?? 'yes',
    bodyBytes,
    seeding,
    hashRate: hashRuns,
    rows,
    ratios,
    skipped,
    errors,
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(resultsDir, 'latest.md'), `${markdown}\n`)
  process.stdout.write(`\n${markdown}\n\nRaw results: ${file}\n`)
}

// ------------------------------------------------------------------------------------------------------
// Main

let cleanedUp = false
async function cleanup(): Promise<void> {
  if (cleanedUp) return
  cleanedUp = true
  killAllChildren()
  await dropPostgresDatabase()
  rmSync(tmp, { recursive: true, force: true })
}

process.on('exit', killAllChildren)
let interrupts = 0
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    aborted = true
    killAllChildren()
    if (++interrupts > 1) process.exit(130)
    log(`${signal}: stopping after the current measurement`)
  })
}

async function main(): Promise<void> {
  const series = allSeries()
  log(
    `fastify-users benchmark: scenarios ${[...config.scenarios].join(',')}, ${series.length} series, ` +
      `${config.runs} runs, budget ${config.budgetSeconds} s`,
  )
  const watchdog = setTimeout(
    () => {
      log(`time budget exceeded by 60 s: stopping everything`)
      aborted = true
      killAllChildren()
      void cleanup().finally(() => {
        writeResults(series, false)
        process.exit(1)
      })
    },
    (config.budgetSeconds + 60) * 1000,
  )
  watchdog.unref()
  if (config.scenarios.has(6) && redisNote !== null) log(`scenario 6 (Redis) skipped: ${redisNote}`)
  if (config.scenarios.has(7) && !config.postgres)
    log('scenario 7 (two instances) skipped: needs FASTIFY_USERS_BENCH_POSTGRES_URL')
  try {
    let runner: Runner = tsxRunner
    if (config.runner === 'bundle') {
      try {
        runner = await bundleEntries(join(resultsDir, '.build'))
      } catch (err) {
        // esbuild comes with tsx; without it, fall back to tsx (peak RSS then includes its loader).
        log(`cannot bundle the servers (${(err as Error).message}): running them through tsx`)
        config.runner = 'tsx'
      }
    }
    hashes = await precomputeHashes(4)
    if (config.postgres && series.some(onPostgres)) {
      try {
        await createPostgresDatabase()
        await seed(postgresDb!.url, config.smallUsers, 'postgres')
      } catch (err) {
        postgresNote = `unavailable (${(err as Error).message})`
        log(`PostgreSQL ${postgresNote}: its series are skipped`)
      }
    }
    const active = series.filter((s) => !onPostgres(s) || postgresDb !== null)
    for (const s of active) if (s.kind === 'server' && s.setup) await s.setup()

    for (let run = 1; run <= config.runs && !aborted; run++) {
      log(`run ${run}/${config.runs}`)
      for (const s of active) {
        if (aborted) break
        const estimate = estimateSeconds(s)
        if (elapsed() + estimate > config.budgetSeconds) {
          skipped.push({ series: s.id, run, reason: `would end past ${config.budgetSeconds} s` })
          log(`skip ${s.id} run ${run}: it would end past the budget`)
          continue
        }
        log(`${s.id} (run ${run})`)
        try {
          await runSeries(s, run, runner)
        } catch (err) {
          errors.push({ series: s.id, run, error: (err as Error).message })
          log(`ERROR ${s.id} run ${run}: ${(err as Error).message}`)
        }
      }
    }
  } finally {
    await cleanup()
    clearTimeout(watchdog)
  }
  writeResults(series, !aborted)
  if (liveChildren() > 0) log(`warning: ${liveChildren()} child processes still running`)
  if (errors.length > 0 || aborted) process.exitCode = 1
}

await main()
