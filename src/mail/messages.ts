/**
 * The mails the user service sends, each with a text and an HTML part. Links are built only from the
 * configured base URL, never from a request's `Host` or `X-Forwarded-Host` (docs/security.md, "Links in mails"), so a
 * forged header cannot send a victim a link to an attacker's site. Tokens travel in the link's fragment
 * (`#token=`), which browsers never send to a server, so no server log ever records them.
 *
 * @module
 */
import type { MailMessage } from './mailer.js'

/** The kinds of mail the service sends. */
export type UserMailKind =
  | 'verification'
  | 'password-reset'
  | 'password-changed'
  | 'existing-account'
  | 'email-changed'
  | 'email-change-confirm'
  | 'email-change-requested'
  | 'refresh-token-reuse'
  | 'second-factor-changed'
  | 'passkey-added'
  | 'passkey-removed'

/** Where links in mails point. */
export interface MailLinkOptions {
  /** The public origin of the application, for example `'https://app.example.com'`. Required for links. */
  baseUrl: string
  /** Path of the page that verifies an email address. Default: `'/verify'`. */
  verifyPath?: string
  /** Path of the page that sets a new password. Default: `'/reset-password'`. */
  resetPath?: string
  /** Path of the page that confirms a new email address (mailed to that address). Default: `'/confirm-email'`. */
  confirmEmailPath?: string
  /** Path of the page that cancels a pending email change (mailed to the current address). Default: `'/cancel-email'`. */
  cancelEmailPath?: string
  /** Name of the application in subjects and greetings. Default: `'fastify-users'`. */
  appName?: string
}

/** What a mail needs to say. */
export interface UserMailInput {
  to: string
  /**
   * The token, for `verification`, `password-reset`, `existing-account` (a reset link),
   * `email-change-confirm` and `email-change-requested` (a cancel link).
   */
  token?: string
  /** The new address, for `email-changed` and `email-change-requested` (both sent to the old one). */
  newEmail?: string
  /** The passkey's name, for `passkey-added` and `passkey-removed`. */
  passkeyName?: string
  /** For `second-factor-changed`: what happened. */
  change?: 'added' | 'removed' | 'recovery-codes-regenerated'
  /** For `second-factor-changed`: which factor (`'totp'`, `'passkey'`...). */
  factor?: string
}

const FACTOR_NAMES: Readonly<Record<string, string>> = {
  totp: 'an authenticator app',
  passkey: 'a passkey',
}

const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/**
 * Builds the link carrying a token in the URL fragment: `https://app.example/verify#token=...`. A browser
 * never sends the fragment to a server, so the token stays out of access logs, proxy logs and `Referer`
 * headers; the page the link opens reads it with a script and posts it in a JSON body.
 *
 * @example
 * ```ts
 * tokenLink('https://app.example', '/verify', 'abc') // 'https://app.example/verify#token=abc'
 * ```
 */
export function tokenLink(baseUrl: string, path: string, token: string): string {
  // Resolved relative to the base, so an application served under a path prefix (`https://x.com/app`)
  // gets `https://x.com/app/verify`, not a link to the site's root.
  const url = new URL(path.replace(/^\/+/, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  url.hash = new URLSearchParams({ token }).toString()
  return url.toString()
}

/**
 * The token of a link built by {@link tokenLink} (read from the fragment), or `null`.
 *
 * @example
 * ```ts
 * tokenFromLink('https://app.example/verify#token=abc') // 'abc'
 * ```
 */
export function tokenFromLink(link: string): string | null {
  if (!URL.canParse(link)) return null
  return new URLSearchParams(new URL(link).hash.replace(/^#/, '')).get('token')
}

/**
 * Composes one mail.
 *
 * @example
 * ```ts
 * const mail = composeUserMail('password-reset', { to: user.email, token }, { baseUrl: 'https://app.example' })
 * await mailer.send(mail)
 * ```
 */
export function composeUserMail(
  kind: UserMailKind,
  input: UserMailInput,
  options: MailLinkOptions,
): MailMessage {
  const app = options.appName ?? 'fastify-users'
  const need = (token: string | undefined): string => {
    if (!token) throw new TypeError(`a ${kind} mail needs a token`)
    return token
  }
  const paragraphs: string[] = []
  let subject: string
  // `at`: the link goes after the paragraphs written before it, so a sentence that ends "here:" is followed
  // by its link, whichever paragraph it is.
  let link: { href: string; label: string; at: number } | undefined
  switch (kind) {
    case 'verification':
      subject = `Verify your email address for ${app}`
      paragraphs.push(`Please confirm that ${input.to} is your email address by opening the link below.`)
      link = {
        at: paragraphs.length,
        href: tokenLink(options.baseUrl, options.verifyPath ?? '/verify', need(input.token)),
        label: 'Verify my email address',
      }
      paragraphs.push('If you did not create an account, you can ignore this mail.')
      break
    case 'password-reset':
      subject = `Reset your ${app} password`
      paragraphs.push(
        'Someone asked to reset the password of your account. Open the link below to choose a new one.',
      )
      link = {
        at: paragraphs.length,
        href: tokenLink(options.baseUrl, options.resetPath ?? '/reset-password', need(input.token)),
        label: 'Choose a new password',
      }
      paragraphs.push(
        'The link works once and expires soon. If you did not ask for it, ignore this mail: your password stays as it is.',
      )
      break
    case 'existing-account':
      subject = `Someone tried to register with your address at ${app}`
      paragraphs.push(`Someone tried to create a ${app} account with ${input.to}, but you already have one.`)
      paragraphs.push('If it was you and you forgot your password, you can choose a new one here:')
      link = {
        at: paragraphs.length,
        href: tokenLink(options.baseUrl, options.resetPath ?? '/reset-password', need(input.token)),
        label: 'Choose a new password',
      }
      paragraphs.push('If it was not you, ignore this mail: nothing about your account has changed.')
      break
    case 'password-changed':
      subject = `Your ${app} password was changed`
      paragraphs.push(
        'The password of your account was just changed, and every session signed in with the old one has ended.',
      )
      paragraphs.push('If you did not do this, reset your password at once and contact support.')
      break
    case 'refresh-token-reuse':
      subject = `A sign-in to your ${app} account was ended`
      paragraphs.push(
        'A refresh token of your account was presented after it had already been used, which happens when it was copied. The sign-in it belonged to has been ended, on every device that shared it.',
      )
      paragraphs.push('Sign in again. If this keeps happening, change your password and check your devices.')
      break
    case 'passkey-added':
      subject = `A passkey was added to your ${app} account`
      paragraphs.push(
        `A passkey named "${input.passkeyName ?? 'Passkey'}" was added to your account: it can now be used to log in.`,
      )
      paragraphs.push(
        'If you did not do this, remove it from your account, change your password and contact support.',
      )
      break
    case 'passkey-removed':
      subject = `A passkey was removed from your ${app} account`
      paragraphs.push(`The passkey named "${input.passkeyName ?? 'Passkey'}" was removed from your account.`)
      paragraphs.push('If you did not do this, change your password at once and contact support.')
      break
    case 'email-changed':
      subject = `The email address of your ${app} account was changed`
      paragraphs.push(
        `The email address of your account was changed from ${input.to} to ${input.newEmail ?? 'a new address'}.`,
      )
      paragraphs.push('If you did not do this, contact support at once.')
      break
    case 'email-change-confirm':
      subject = `Confirm your new email address for ${app}`
      paragraphs.push(
        `Someone asked to move a ${app} account to ${input.to}. If it was you, confirm this address by opening the link below.`,
      )
      link = {
        at: paragraphs.length,
        href: tokenLink(options.baseUrl, options.confirmEmailPath ?? '/confirm-email', need(input.token)),
        label: 'Confirm my new email address',
      }
      paragraphs.push('If it was not you, ignore this mail: no account moves to your address without it.')
      break
    case 'email-change-requested':
      subject = `Your ${app} email address is about to change`
      paragraphs.push(
        `Someone signed in to your account asked to change its email address from ${input.to} to ${input.newEmail ?? 'a new address'}. Nothing changes until the new address is confirmed; until then you keep logging in with this one. If it was not you, cancel the change here; it also signs out every session:`,
      )
      link = {
        at: paragraphs.length,
        href: tokenLink(options.baseUrl, options.cancelEmailPath ?? '/cancel-email', need(input.token)),
        label: 'Cancel the email change',
      }
      paragraphs.push(
        'If it was not you, also choose a new password: whoever asked for the change knew your current one.',
      )
      break
    case 'second-factor-changed': {
      const factor = FACTOR_NAMES[input.factor ?? ''] ?? 'a second factor'
      if (input.change === 'recovery-codes-regenerated') {
        subject = `New recovery codes for your ${app} account`
        paragraphs.push('New recovery codes were generated for your account; the old ones no longer work.')
      } else if (input.change === 'removed') {
        subject = `Two-step login changed on your ${app} account`
        paragraphs.push(`Signing in to your account no longer accepts ${factor} as a second step.`)
      } else {
        subject = `Two-step login changed on your ${app} account`
        paragraphs.push(`Signing in to your account now accepts ${factor} as a second step.`)
      }
      paragraphs.push('If you did not do this, reset your password at once and contact support.')
      break
    }
  }
  const textParts = [...paragraphs]
  if (link) textParts.splice(link.at, 0, link.href)
  const text = textParts.join('\n\n')
  const htmlParts = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`)
  if (link)
    htmlParts.splice(link.at, 0, `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`)
  return {
    to: input.to,
    subject,
    text: `${text}\n`,
    html: `<!doctype html><html><body>${htmlParts.join('')}</body></html>`,
  }
}
