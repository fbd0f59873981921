/**
 * Mail delivery of the user service: every mail goes out in the background, after the caller's answer,
 * so an SMTP round trip cannot tell a known address from an unknown one by timing, and a failing server
 * cannot change an answer. Also runs the background lookups of the requests that must answer alike for
 * every address. The mail cap is applied here, whatever the entry point.
 *
 * @module
 */
import type { Logger } from '../kernel/logger.js'
import type { UserMailInput, UserMailKind } from '../mail/messages.js'
import type { MailCap } from './mail-cap.js'
import type { BaseUser } from './user.js'

/**
 * Turns a kind of mail and its input into a message and hands it over; the port between the service and
 * the mail layer. `null` when no mailer is configured.
 *
 * @example
 * ```ts
 * const post: MailPost = async (kind, input) => mailer.send(composeUserMail(kind, input, { baseUrl }))
 * ```
 */
export type MailPost = ((kind: UserMailKind, input: UserMailInput) => Promise<void>) | null

/**
 * What {@link Notices} needs around it.
 *
 * @example
 * ```ts
 * const notices = new Notices({ mailCap: null, post: null, logger, onDeliveryError: async () => {} })
 * ```
 */
export interface NoticesOptions<U extends BaseUser> {
  /** The cap on mails to one address, or `null` when off. */
  mailCap: MailCap | null
  /** Sends a composed mail; `null` when no mailer is configured (the senders then warn once). */
  post: MailPost
  logger: Logger
  /** Called when a delivery failed (the service's overridable `onDeliveryError`). */
  onDeliveryError(error: unknown, context: { kind: UserMailKind; user: U }): Promise<void>
}

/**
 * The background mail queue of one service.
 *
 * @example
 * ```ts
 * notices.deliver('password-changed', user, () => service.sendPasswordChangedNotice(user))
 * await notices.settled()
 * ```
 */
export class Notices<U extends BaseUser> {
  readonly #options: NoticesOptions<U>
  readonly #pending = new Set<Promise<void>>()
  #warnedNoMailer = false

  constructor(options: NoticesOptions<U>) {
    this.#options = options
  }

  /**
   * Runs `send` after the current answer, under the mail cap of `user`'s address; a failure is logged
   * and handed to `onDeliveryError`, never thrown.
   */
  deliver(kind: UserMailKind, user: U, send: () => Promise<void>): void {
    const { mailCap, logger } = this.#options
    this.#track(
      (async () => {
        try {
          if (mailCap && !(await mailCap.allow(kind, user.email, user.id))) return
          await send()
        } catch (error) {
          logger.error({ event: 'mail_failed', kind, userId: user.id, err: error }, 'mail delivery failed')
          try {
            await this.#options.onDeliveryError(error, { kind, user })
          } catch (hookError) {
            logger.error(
              { event: 'mail_failed', kind, userId: user.id, err: hookError },
              'onDeliveryError failed',
            )
          }
        }
      })(),
    )
  }

  /**
   * Runs `job` after the current answer, tracked like a delivery. The work of a request that must not tell
   * a known address from an unknown one goes here whole: the caller's answer then costs the same whatever
   * the job finds. A failure is logged, never thrown.
   */
  inBackground(kind: UserMailKind, job: () => Promise<void>): void {
    this.#track(
      (async () => {
        // Yield first: the answer is sent before the lookup starts.
        await new Promise<void>((resolve) => setImmediate(resolve))
        try {
          await job()
        } catch (error) {
          this.#options.logger.error(
            { event: 'background_failed', kind, err: error },
            'background lookup failed',
          )
        }
      })(),
    )
  }

  /** Composes and sends one mail through the mailer; without one, warns once and sends nothing. */
  async send(kind: UserMailKind, input: UserMailInput): Promise<void> {
    const post = this.#options.post
    if (!post) {
      if (!this.#warnedNoMailer) {
        this.#warnedNoMailer = true
        this.#options.logger.warn(
          { event: 'mail_not_configured', kind },
          'no mailer configured: mails are not sent; pass `mailer` or override the send methods',
        )
      }
      return
    }
    await post(kind, input)
  }

  /** Resolves when every delivery and background job started so far has ended. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  #track(task: Promise<void>): void {
    this.#pending.add(task)
    void task.finally(() => this.#pending.delete(task))
  }
}
