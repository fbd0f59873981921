/**
 * The one interface every mail transport implements: SMTP through nodemailer for real use, the console
 * for the demo, or anything an application brings (a queue, an HTTP mail API).
 *
 * @module
 */

/** One mail, with a text part and an HTML part. */
export interface MailMessage {
  to: string
  subject: string
  text: string
  html: string
}

/**
 * Sends mail. Implementations throw when a mail cannot be handed over; the user service catches that,
 * logs it and calls its `onDeliveryError` hook, so a failing mail never changes an HTTP answer.
 *
 * @example
 * ```ts
 * const mailer: Mailer = { async send(message) { await queue.push(message) } }
 * ```
 */
export interface Mailer {
  send(message: MailMessage): Promise<void>
}
