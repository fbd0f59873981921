/**
 * `fastify-users/mail`: the {@link Mailer} interface, the mails the user service sends, and two mailers:
 * {@link SmtpMailer} for real use and {@link ConsoleMailer} for development.
 *
 * @example
 * ```ts
 * import { ConsoleMailer, SmtpMailer } from 'fastify-users/mail'
 *
 * const mailer = process.env.SMTP_URL ? SmtpMailer.fromUrl(process.env.SMTP_URL) : new ConsoleMailer()
 * const service = new BaseUserService({ ..., mailer, mail: { baseUrl: 'https://app.example.com' } })
 * ```
 *
 * @module
 */

export { ConsoleMailer, type ConsoleMailerOptions, formatMailLine } from './console-mailer.js'
export type { Mailer, MailMessage } from './mailer.js'
export {
  composeUserMail,
  type MailLinkOptions,
  tokenFromLink,
  tokenLink,
  type UserMailInput,
  type UserMailKind,
} from './messages.js'
export { SmtpMailer, type SmtpMailerOptions } from './smtp-mailer.js'
