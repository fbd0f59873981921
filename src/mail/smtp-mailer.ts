/**
 * `SmtpMailer`: the {@link Mailer} for real use, over nodemailer's SMTP transport. Configure it with an
 * `SMTP_URL` (`smtp://` or `smtps://user:pass@host:port?from=...`) or with explicit options.
 *
 * @module
 */
import { isIP } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import { createTransport, type Transporter } from 'nodemailer'
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js'
import type { Mailer, MailMessage } from './mailer.js'

/** Options of {@link SmtpMailer}. Explicit options win over what `url` says. */
export interface SmtpMailerOptions {
  /**
   * `smtp://[user:pass@]host[:port][?query]` (STARTTLS when offered, port 587 by default) or
   * `smtps://...` (TLS from the first byte, port 465 by default). User and password are percent-decoded.
   * The query may carry `from`, `requireTLS` (`true`/`false`), `rejectUnauthorized` (`true`/`false`) and
   * `name`; any other parameter is refused, so a typo cannot silently weaken the connection.
   */
  url?: string
  /** The SMTP server. Required unless `url` names it. */
  host?: string
  /** Default: `465` when `secure`, else `587`. */
  port?: number
  /** TLS from the first byte (port 465). Default: `true` for `smtps://` URLs and port 465, else `false`. */
  secure?: boolean
  /**
   * Refuse to send unless the server upgrades the connection with STARTTLS. Default: `true` when `auth` is
   * set on a non-`secure` connection to a host that is not a loopback address (so a network attacker who
   * strips STARTTLS cannot read the password), else `false` (STARTTLS is still used when offered).
   */
  requireTLS?: boolean
  /** Credentials for SMTP AUTH (PLAIN or LOGIN, whichever the server offers). Default: none. */
  auth?: { user: string; pass: string }
  /** The `From` of every mail, for example `'Example <no-reply@example.com>'`. Required (here or in `url`). */
  from?: string
  /** The name the client gives in `EHLO`. Default: the machine's host name. */
  name?: string
  /** TLS options (certificate checks, `servername`, CA). Default: Node's, which verify the certificate. */
  tls?: ConnectionOptions
  /** Keep up to 5 connections open and reuse them. Call {@link SmtpMailer.close} at shutdown. Default: `false`. */
  pool?: boolean
  /** Milliseconds to wait for the TCP connection. Default: `10000`. */
  connectionTimeout?: number
  /** Milliseconds to wait for the server's greeting. Default: `10000`. */
  greetingTimeout?: number
  /** Milliseconds of inactivity before the socket is given up. Default: `60000`. */
  socketTimeout?: number
}

const URL_QUERY_KEYS = new Set(['from', 'requireTLS', 'rejectUnauthorized', 'name'])

/**
 * Sends mail over SMTP through nodemailer. Every mail has the text and the HTML part of the
 * {@link MailMessage}, and an `Auto-Submitted: auto-generated` header (RFC 3834) so that vacation
 * responders do not answer it.
 *
 * `send` rejects when the server refuses the mail or cannot be reached; the user service catches that,
 * logs it and calls its `onDeliveryError` hook, so the user's request still gets its normal answer.
 *
 * @throws TypeError at construction when `from` or `host` is missing, the URL is malformed or not
 *   `smtp:`/`smtps:`, or an option has the wrong type.
 *
 * @example
 * ```ts
 * import { SmtpMailer } from 'fastify-users/mail'
 *
 * // SMTP_URL=smtps://apikey:s3cret@smtp.example.com?from=Example%20%3Cno-reply%40example.com%3E
 * const mailer = SmtpMailer.fromUrl(process.env.SMTP_URL!)
 * const mailer2 = new SmtpMailer({ host: 'localhost', port: 1025, from: 'dev@localhost' })
 * ```
 */
export class SmtpMailer implements Mailer {
  /** The `From` of every mail. */
  readonly from: string
  readonly #transport: Transporter<SMTPTransport.SentMessageInfo>

  constructor(options: SmtpMailerOptions) {
    if (!options || typeof options !== 'object') {
      throw new TypeError('fastify-users: SmtpMailer needs options ({ url } or { host, from })')
    }
    const fromUrl = options.url === undefined ? {} : parseSmtpUrl(options.url)
    const merged = { ...fromUrl, ...withoutUndefined(options) }
    const { host, from } = merged
    if (typeof host !== 'string' || host.length === 0) {
      throw new TypeError('fastify-users: SmtpMailer needs a `host` (or a `url` naming one)')
    }
    if (typeof from !== 'string' || from.trim().length === 0) {
      throw new TypeError(
        "fastify-users: SmtpMailer needs a `from` address, for example 'Example <no-reply@example.com>' " +
          '(as an option or as ?from= in the SMTP URL)',
      )
    }
    // A line break in From would let whoever controls the configuration inject headers.
    if (/[\r\n]/.test(from)) throw new TypeError('fastify-users: SmtpMailer `from` must be a single line')
    const secure = merged.secure ?? merged.port === 465
    const port = merged.port ?? (secure ? 465 : 587)
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new TypeError(`fastify-users: SmtpMailer port must be an integer from 1 to 65535, got ${port}`)
    }
    const auth = merged.auth
    if (auth !== undefined && (typeof auth.user !== 'string' || typeof auth.pass !== 'string')) {
      throw new TypeError('fastify-users: SmtpMailer `auth` must be { user: string, pass: string }')
    }
    const requireTLS = merged.requireTLS ?? (auth !== undefined && !secure && !isLoopback(host))
    this.from = from
    this.#transport = createTransport({
      host,
      port,
      secure,
      requireTLS,
      ...(auth ? { auth: { user: auth.user, pass: auth.pass } } : {}),
      ...(merged.name ? { name: merged.name } : {}),
      ...(merged.tls ? { tls: merged.tls } : {}),
      ...(merged.pool ? { pool: true } : {}),
      connectionTimeout: merged.connectionTimeout ?? 10_000,
      greetingTimeout: merged.greetingTimeout ?? 10_000,
      socketTimeout: merged.socketTimeout ?? 60_000,
    } as SMTPTransport.Options)
  }

  /**
   * Builds a mailer from an SMTP URL. `from` given here wins over a `?from=` in the URL.
   *
   * @example
   * ```ts
   * const mailer = SmtpMailer.fromUrl('smtp://user:pass@mail.example.com:587', 'no-reply@example.com')
   * ```
   */
  static fromUrl(url: string, from?: string): SmtpMailer {
    return new SmtpMailer({ url, from })
  }

  /** Sends one mail; rejects when the server cannot be reached or refuses the recipient. */
  async send(message: MailMessage): Promise<void> {
    const info = await this.#transport.sendMail({
      from: this.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      headers: { 'Auto-Submitted': 'auto-generated' },
    })
    if (info.rejected.length > 0) {
      throw new Error(`SMTP server refused the recipient ${message.to}: ${info.response}`)
    }
  }

  /**
   * Connects, authenticates and disconnects, to check the configuration at startup. Rejects with the
   * server's or the network's error.
   */
  async verify(): Promise<void> {
    await this.#transport.verify()
  }

  /** Closes pooled connections. A no-op without `pool`. */
  close(): void {
    this.#transport.close()
  }
}

/** Drops `undefined` values, so an explicit `{ from: undefined }` does not hide the URL's `?from=`. */
function withoutUndefined(options: SmtpMailerOptions): Partial<SmtpMailerOptions> {
  return Object.fromEntries(
    Object.entries(options).filter(([key, value]) => value !== undefined && key !== 'url'),
  ) as Partial<SmtpMailerOptions>
}

function parseSmtpUrl(url: string): Partial<SmtpMailerOptions> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError('fastify-users: SMTP URL is not a URL; expected smtp://user:pass@host:587')
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new TypeError(
      `fastify-users: SMTP URL must start with smtp:// or smtps://, not ${parsed.protocol}//`,
    )
  }
  const options: Partial<SmtpMailerOptions> = { secure: parsed.protocol === 'smtps:' }
  // URL keeps IPv6 literals in brackets; the socket wants them bare.
  if (parsed.hostname) options.host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  if (parsed.port) options.port = Number(parsed.port)
  if (parsed.username) {
    options.auth = { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }
  }
  for (const [key, value] of parsed.searchParams) {
    if (!URL_QUERY_KEYS.has(key)) {
      throw new TypeError(
        `fastify-users: unknown SMTP URL parameter '${key}'; known: ${[...URL_QUERY_KEYS].join(', ')}`,
      )
    }
    if (key === 'from') options.from = value
    else if (key === 'name') options.name = value
    else if (key === 'requireTLS') options.requireTLS = parseBoolean(key, value)
    else options.tls = { rejectUnauthorized: parseBoolean(key, value) }
  }
  return options
}

function parseBoolean(key: string, value: string): boolean {
  if (value === 'true') return true
  if (value === 'false') return false
  throw new TypeError(`fastify-users: SMTP URL parameter '${key}' must be true or false, got '${value}'`)
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}
