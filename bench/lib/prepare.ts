/**
 * Each run's preparation of a server: log in, check the answer names the login user, and check the
 * server runs as the series says: its authentication cache on (or off), its sessions in Redis. Both
 * checks look at behaviour, not at configuration, so a server that silently ignored an option would
 * fail the run instead of being measured under a wrong label.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { BENCH_LOGIN_EMAIL, BENCH_PASSWORD } from '../common.js'
import { config, state } from './config.js'
import type { Headers } from './series.js'

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

async function getText(base: string, path: string, headers: Headers): Promise<[number, string]> {
  const response = await fetch(`${base}${path}`, { headers })
  return [response.status, await response.text()]
}

/** GETs `path` once with `headers`; checks it is 200 and names the login user; returns its size. */
export async function checkBody(base: string, path: string, headers: Headers): Promise<number> {
  const [status, text] = await getText(base, path, headers)
  if (status !== 200 || !text.includes(BENCH_LOGIN_EMAIL))
    throw new Error(`GET ${path} answered ${status}: ${text.slice(0, 200)}`)
  return Buffer.byteLength(text)
}

/** Renames the login user straight in the database, behind the server's back (no invalidation). */
async function renameLoginUser(url: string, from: string, to: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(url.slice('sqlite:'.length))
    try {
      db.pragma('busy_timeout = 5000')
      db.prepare('update users set email = ? where email = ?').run(to, from)
    } finally {
      db.close()
    }
    return
  }
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('update users set email = $1 where email = $2', [to, from])
  } finally {
    await client.end()
  }
}

/**
 * Whether the server answers `GET /users/me` from its authentication cache: the credential was just
 * checked (so it is cached), the row is changed behind the server's back, and the next answer still
 * shows the old email only if it came from the cache. The row is put back before returning.
 */
async function checkCache(base: string, headers: Headers, url: string): Promise<void> {
  const renamed = `cache-probe-${randomBytes(4).toString('hex')}@bench.test`
  await renameLoginUser(url, BENCH_LOGIN_EMAIL, renamed)
  let text: string
  try {
    ;[, text] = await getText(base, '/users/me', headers)
  } finally {
    await renameLoginUser(url, renamed, BENCH_LOGIN_EMAIL)
  }
  const cached = text.includes(BENCH_LOGIN_EMAIL)
  if (cached !== config.authCache)
    throw new Error(
      `the authentication cache is ${cached ? 'on' : 'off'} where the run expects it ${config.authCache ? 'on' : 'off'}`,
    )
}

/** Checks the login left a session under the series' Redis prefix: the server's sessions live in Redis. */
async function checkRedisSession(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(config.redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000)
    if (keys.length === 0)
      throw new Error(`no key under ${prefix} in Redis after a login: sessions are not in Redis`)
  } finally {
    redis.disconnect()
  }
}

/** Deletes every key the run's servers wrote to Redis (their prefixes start with `prefix`). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  if (!config.redisUrl) return
  const { Redis } = await import('ioredis')
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** How a fastify-users server is checked after its login. */
export interface LoginChecks {
  /** Its database URL, for the cache check. */
  databaseUrl: string
  /** Its Redis key prefix, when its sessions should be in Redis. */
  redisPrefix?: string
}

/**
 * Logs in to a fastify-users server with the given backend; returns the credential's headers after
 * checking the answer, the cache and (for sessions) Redis.
 */
export async function fastifyUsersLogin(
  base: string,
  backend: 'session' | 'jwt',
  checks: LoginChecks,
): Promise<Headers> {
  const response = await post(`${base}/login`, { email: BENCH_LOGIN_EMAIL, password: BENCH_PASSWORD })
  if (response.status !== 200) throw new Error(`POST /login answered ${response.status}`)
  let headers: Headers
  if (backend === 'session') {
    headers = { cookie: cookieNamed(response, 'fastify-users-session') }
  } else {
    const body = (await response.json()) as { accessToken?: string }
    if (!body.accessToken) throw new Error('POST /login gave no access token')
    headers = { authorization: `Bearer ${body.accessToken}` }
  }
  state.bodyBytes.usersMe = await checkBody(base, '/users/me', headers)
  await checkCache(base, headers, checks.databaseUrl)
  if (backend === 'session' && checks.redisPrefix) await checkRedisSession(checks.redisPrefix)
  return headers
}

/** Signs the login user up on better-auth (or finds it there). */
export async function betterAuthUser(base: string): Promise<Headers> {
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

/** Signs in on better-auth; returns the session cookie after checking get-session names the user. */
export async function betterAuthSession(base: string): Promise<Headers> {
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
