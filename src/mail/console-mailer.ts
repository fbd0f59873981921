/**
 * `ConsoleMailer`: the demo's {@link Mailer}. It prints one line per mail instead of sending it, so a
 * developer can follow verification and reset links without an SMTP server.
 *
 * @module
 */
import type { Mailer, MailMessage } from './mailer.js'

/** Options of {@link ConsoleMailer}. */
export interface ConsoleMailerOptions {
  /** Where lines go. Default: `process.stdout`. */
  stream?: { write(chunk: string): unknown }
  /** Starts every line. Default: `'[mail]'`. */
  prefix?: string
}

// The first http(s) URL of the text part: composeUserMail puts the one link of a mail on a line of its own.
const LINK = /https?:\/\/[^\s<>"]+/

/**
 * Writes every mail as one line: recipient, subject, and the full link of the mail (which carries the
 * token in its `#token=` fragment), or no link for notices that have none.
 *
 * For development only: the line contains a live token, so in production it would put credentials in the
 * logs. Use {@link SmtpMailer} (or your own {@link Mailer}) there.
 *
 * @example
 * ```ts
 * const mailer = new ConsoleMailer()
 * await mailer.send(composeUserMail('verification', { to, token }, { baseUrl, appName: 'demo' }))
 * // [mail] to=ada@example.com subject="Verify your email address for demo" link=http://127.0.0.1:3000/verify#token=eyJ...
 * ```
 */
export class ConsoleMailer implements Mailer {
  readonly #stream: { write(chunk: string): unknown }
  readonly #prefix: string

  constructor(options: ConsoleMailerOptions = {}) {
    this.#stream = options.stream ?? process.stdout
    this.#prefix = options.prefix ?? '[mail]'
  }

  /** Writes the mail's line. */
  async send(message: MailMessage): Promise<void> {
    this.#stream.write(`${formatMailLine(message, this.#prefix)}\n`)
  }
}

/**
 * The line {@link ConsoleMailer} writes for a mail, without the newline. The subject is JSON-quoted, so a
 * quote or a line break in it cannot split or forge a line.
 *
 * @example
 * ```ts
 * formatMailLine({ to: 'a@example.com', subject: 'Hi', text: 'see https://x.test/v#token=t', html: '' })
 * // '[mail] to=a@example.com subject="Hi" link=https://x.test/v#token=t'
 * ```
 */
export function formatMailLine(message: MailMessage, prefix = '[mail]'): string {
  const link = LINK.exec(message.text)?.[0]
  const parts = [prefix, `to=${message.to}`, `subject=${JSON.stringify(message.subject)}`]
  if (link) parts.push(`link=${link}`)
  return parts.join(' ')
}
