/**
 * A real SMTP server for tests: `smtp-server` on 127.0.0.1 and a random port, every mail parsed with
 * mailparser. Tests send through the real `SmtpMailer` (or the plugin) and read what arrived, links and
 * tokens included, with nothing stubbed in between.
 *
 * @example
 * ```ts
 * const sink = await startSmtpSink()
 * const mailer = SmtpMailer.fromUrl(sink.url, 'app@example.com')
 * // ... register a user through the service or over HTTP ...
 * const mail = await sink.nextMail({ to: 'ada@example.com', subject: /verify/i })
 * await service.verify(mail.token!, undefined, { password })
 * await sink.close()
 * ```
 *
 * @module
 */
import { type AddressInfo, createServer } from 'node:net'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import { tokenFromLink } from '../../src/mail/messages.js'

/** One mail as the sink received it. */
export interface ReceivedMail {
  /** The SMTP envelope: `MAIL FROM` and `RCPT TO`, as the server saw them. */
  envelope: { from: string | null; to: string[] }
  /** The user name the client authenticated as, when it did. */
  authUser: string | null
  /** The whole parsed mail. */
  parsed: ParsedMail
  /** The `To` header's address(es), lower-cased, comma-joined. */
  to: string
  subject: string
  /** The text part ('' when absent). */
  text: string
  /** The HTML part ('' when absent). */
  html: string
  /** The first http(s) URL of the text part. */
  link: string | undefined
  /** The first `href` of the HTML part. */
  htmlLink: string | undefined
  /** The `token` query parameter of {@link link}. */
  token: string | undefined
}

/** What {@link SmtpSink.nextMail} waits for; every given field must match. */
export interface MailFilter {
  /** Recipient address, compared case-insensitively. */
  to?: string
  /** Exact subject, or a pattern. */
  subject?: string | RegExp
  /** How long to wait. Default: `5000` ms. */
  timeoutMs?: number
}

/** A running sink. */
export interface SmtpSink {
  host: string
  port: number
  /** `smtp://[user:pass@]127.0.0.1:<port>`: hand it to `SmtpMailer.fromUrl` or the demo's `SMTP_URL`. */
  url: string
  /** Every mail received so far, in order. */
  readonly mails: readonly ReceivedMail[]
  /**
   * The oldest mail not yet returned by this method that matches the filter, waiting for it if needed.
   * Rejects after the timeout, listing what did arrive.
   */
  nextMail(filter?: MailFilter): Promise<ReceivedMail>
  /** Stops the server. */
  close(): Promise<void>
}

/** Options of {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /**
   * Require `AUTH` with these credentials (PLAIN or LOGIN, allowed without TLS on the loopback test
   * server). Default: no authentication.
   */
  auth?: { user: string; pass: string }
}

/**
 * Starts a sink. STARTTLS is disabled, so clients speak plain SMTP (with `SmtpMailer`, credentials to a
 * loopback host do not require TLS).
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const mails: ReceivedMail[] = []
  const returned = new Set<ReceivedMail>()
  const waiters = new Set<() => void>()
  const required = options.auth

  const server = new SMTPServer({
    logger: false,
    // No reverse DNS of 127.0.0.1: tests must not depend on a resolver being reachable.
    disableReverseLookup: true,
    disabledCommands: required ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !required,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (required && auth.username === required.user && auth.password === required.pass) {
        callback(null, { user: auth.username })
      } else {
        callback(new Error('Invalid username or password'))
      }
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          mails.push(toReceived(parsed, session))
          for (const wake of waiters) wake()
          callback()
        })
        .catch((error: Error) => callback(error))
    },
  })

  const host = '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.on('error', reject)
    server.listen(0, host, () => resolve())
  })
  const port = (server.server.address() as AddressInfo).port
  const credentials = required
    ? `${encodeURIComponent(required.user)}:${encodeURIComponent(required.pass)}@`
    : ''

  const take = (filter: MailFilter): ReceivedMail | undefined => {
    const found = mails.find((mail) => !returned.has(mail) && matches(mail, filter))
    if (found) returned.add(found)
    return found
  }

  return {
    host,
    port,
    url: `smtp://${credentials}${host}:${port}`,
    mails,
    nextMail(filter: MailFilter = {}) {
      const ready = take(filter)
      if (ready) return Promise.resolve(ready)
      return new Promise<ReceivedMail>((resolve, reject) => {
        const wake = () => {
          const mail = take(filter)
          if (!mail) return
          waiters.delete(wake)
          clearTimeout(timer)
          resolve(mail)
        }
        const timeoutMs = filter.timeoutMs ?? 5000
        const timer = setTimeout(() => {
          waiters.delete(wake)
          const seen = mails.map((m) => `${m.to}: ${m.subject}`).join('; ') || 'none'
          reject(new Error(`no mail matching ${describe(filter)} within ${timeoutMs} ms (received: ${seen})`))
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A port on 127.0.0.1 where nothing listens (bound, then released), for "server down" tests. */
export async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

function toReceived(
  parsed: ParsedMail,
  session: {
    envelope: { mailFrom: { address: string } | false; rcptTo: { address: string }[] }
    user?: unknown
  },
): ReceivedMail {
  const text = parsed.text ?? ''
  const html = typeof parsed.html === 'string' ? parsed.html : ''
  const link = /https?:\/\/[^\s<>"]+/.exec(text)?.[0]
  const htmlLink = /href="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&')
  const toField = Array.isArray(parsed.to) ? parsed.to : parsed.to ? [parsed.to] : []
  return {
    envelope: {
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
      to: session.envelope.rcptTo.map((r) => r.address),
    },
    authUser: typeof session.user === 'string' ? session.user : null,
    parsed,
    to: toField
      .flatMap((a) => a.value.map((v) => (v.address ?? '').toLowerCase()))
      .filter(Boolean)
      .join(','),
    subject: parsed.subject ?? '',
    text,
    html,
    link,
    htmlLink,
    token: link ? (tokenFromLink(link) ?? undefined) : undefined,
  }
}

function matches(mail: ReceivedMail, filter: MailFilter): boolean {
  if (filter.to !== undefined && mail.to !== filter.to.toLowerCase()) return false
  if (typeof filter.subject === 'string' && mail.subject !== filter.subject) return false
  if (filter.subject instanceof RegExp && !filter.subject.test(mail.subject)) return false
  return true
}

function describe(filter: MailFilter): string {
  const parts: string[] = []
  if (filter.to) parts.push(`to=${filter.to}`)
  if (filter.subject) parts.push(`subject=${String(filter.subject)}`)
  return parts.length > 0 ? parts.join(' ') : 'any'
}
