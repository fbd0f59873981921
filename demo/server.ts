/**
 * `npm start`: the fastify-users demo on SQLite, every route group on, mail printed to the console.
 *
 * Environment (all optional):
 * - `HOST`, `PORT`: where to listen. Default `127.0.0.1`, `3000`. `PORT=0` takes a free port.
 * - `DATABASE_URL`: default `sqlite:data/demo.db`, created and migrated at start.
 * - `AUTH_BACKEND`: `session` (default), `jwt` or `jwt-cookie`.
 * - `USERS_SECRET`: at least 32 bytes. When absent, the demo generates one and keeps it in
 *   `data/users-secret` (mode 0600), so tokens and links survive a restart.
 * - `BASE_URL`: the public origin for the links in mails. Default `http://HOST:PORT`.
 * - `COOKIE_SECURE`: `true` or `false`. Default: `true` when `BASE_URL` is `https:`, else `false`, because
 *   browsers drop `Secure` cookies on plain `http://` (the library's own default is always `true`).
 * - `SMTP_URL`: send mail over SMTP (`smtp://user:pass@host:587?from=no-reply@example.com`) instead of
 *   printing it.
 * - `LOG_LEVEL`: the Fastify (pino) log level. Default `warn`; `info` shows the security events.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import type { AuthBackendName } from '../src/auth/auth-backend.js'
import { closeOnSignals } from '../src/fastify/index.js'
import { ConsoleMailer, type Mailer, SmtpMailer } from '../src/mail/index.js'
import { buildDemo } from './app.js'

const DATA_DIR = 'data'
const SECRET_FILE = join(DATA_DIR, 'users-secret')

/** A configuration mistake: printed as one line, without a stack trace. */
class ConfigError extends Error {}

async function loadOrCreateSecret(): Promise<{ secret: string; note: string }> {
  try {
    const secret = (await readFile(SECRET_FILE, 'utf8')).trim()
    return { secret, note: `USERS_SECRET is not set: using the secret kept in ${SECRET_FILE}` }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const secret = randomBytes(32).toString('base64url')
  await mkdir(DATA_DIR, { recursive: true })
  try {
    // 'wx': never overwrite a secret another process has just written; 0600: only this user reads it.
    await writeFile(SECRET_FILE, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecret()
    throw err
  }
  return {
    secret,
    note: `USERS_SECRET is not set: generated one and kept it in ${SECRET_FILE} (mode 0600); set USERS_SECRET in production`,
  }
}

function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) throw new ConfigError(`PORT must be 0 to 65535, got '${value}'`)
  return port
}

// The links in mails must name the real port, so PORT=0 is resolved before the app is built. Another
// process could take the port in between; for a demo, that race is acceptable.
async function freePort(host: string): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A host as it appears in a URL: unspecified addresses become loopback, IPv6 gets brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

function parseBoolean(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  throw new ConfigError(`${name} must be true or false, got '${value}'`)
}

async function main(): Promise<void> {
  const env = process.env
  const host = env.HOST || '127.0.0.1'
  let port = parsePort(env.PORT || '3000')
  if (port === 0 && !env.BASE_URL) port = await freePort(host)
  const baseUrl = env.BASE_URL || `http://${urlHost(host)}:${port}`
  if (!URL.canParse(baseUrl)) throw new ConfigError(`BASE_URL must be an absolute URL, got '${baseUrl}'`)
  const cookieSecure = env.COOKIE_SECURE
    ? parseBoolean('COOKIE_SECURE', env.COOKIE_SECURE)
    : new URL(baseUrl).protocol === 'https:'
  const databaseUrl = env.DATABASE_URL || `sqlite:${DATA_DIR}/demo.db`
  const authBackend = (env.AUTH_BACKEND || 'session') as AuthBackendName

  const notes: string[] = []
  let secret = env.USERS_SECRET
  if (!secret) {
    const loaded = await loadOrCreateSecret()
    secret = loaded.secret
    notes.push(loaded.note)
  }

  let mailer: Mailer
  let mailNote: string
  if (env.SMTP_URL) {
    const smtp = SmtpMailer.fromUrl(env.SMTP_URL)
    mailer = smtp
    mailNote = `SMTP via ${new URL(env.SMTP_URL).host}, from ${smtp.from}`
  } else {
    mailer = new ConsoleMailer()
    mailNote = 'printed here, one [mail] line per mail (set SMTP_URL to send it)'
  }

  const app = await buildDemo({
    databaseUrl,
    secret,
    authBackend,
    baseUrl,
    cookieSecure,
    mailer,
    logLevel: env.LOG_LEVEL || 'warn',
  })
  // Idle connections close at once, requests in flight are answered, new ones get 503, and the process
  // exits within 10 s whatever the clients do; app.close() inside waits for mails and closes the database.
  closeOnSignals(app, { timeoutMs: 10_000 })
  await app.listen({ host, port })

  const { port: actualPort } = app.server.address() as AddressInfo
  const origin = `http://${urlHost(host)}:${actualPort}`
  const cookies =
    authBackend === 'jwt'
      ? 'none (Bearer tokens)'
      : cookieSecure
        ? 'Secure, __Host- prefix'
        : 'without Secure, for plain-HTTP local use (COOKIE_SECURE=true or an https BASE_URL turns it on)'
  const lines = [
    `fastify-users demo listening on ${origin}`,
    `  docs:     ${origin}/docs`,
    ...(authBackend === 'jwt' ? [] : [`  login:    ${origin}/login`]),
    `  database: ${databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}`,
    `  backend:  ${authBackend}; cookies: ${cookies}`,
    `  links:    ${baseUrl}`,
    `  mail:     ${mailNote}`,
    ...notes.map((note) => `  note:     ${note}`),
    '  No account exists yet: register at /docs; make an admin as the README says (no default accounts).',
  ]
  console.log(lines.join('\n'))
}

main().catch((err: unknown) => {
  // Configuration mistakes (ours, and the library's TypeErrors, which name the option) need no stack trace.
  const plain =
    err instanceof ConfigError || (err instanceof TypeError && err.message.startsWith('fastify-users:'))
  console.error(`demo: ${plain ? (err as Error).message : err instanceof Error ? err.stack : String(err)}`)
  process.exit(1)
})
