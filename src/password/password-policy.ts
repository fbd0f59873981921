/**
 * The password rules the library enforces itself: Unicode normalisation, length, the common-password
 * list, words from the user's own data and the app's name, and (optional) the breached-password check.
 *
 * Composition rules ("a digit and a symbol") are left out on purpose: NIST SP 800-63B-4 §3.1.1.2 and
 * ASVS 6.2.5 forbid them, because they push users to predictable patterns; the blocklists are what those
 * documents ask for instead. Application-specific rules plug in at the service level.
 *
 * @module
 */

import { PasswordPolicyError } from '../kernel/errors.js'
import { type Logger, silentLogger } from '../kernel/logger.js'
import { BreachedPasswordCheck, type BreachedPasswordOptions } from './breached-password.js'
import { commonPasswordForm, isCommonPassword } from './common-passwords.js'

/**
 * Normalise a password to Unicode NFKC, the form it is hashed in (NIST SP 800-63B-4 §3.1.1.2), so that
 * `é` typed as one code point or as `e` + a combining accent is the same password on every keyboard.
 *
 * Nothing else changes: no trimming, no case folding (ASVS 6.2.8). A trailing space or a capital letter
 * is part of the password.
 *
 * @example
 * ```ts
 * normalizePassword('e\u0301') === normalizePassword('\u00e9') // true
 * normalizePassword('Secret ') // 'Secret ' (kept as typed)
 * ```
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}

/** Options of {@link PasswordPolicy}. */
export interface PasswordPolicyOptions {
  /** Fewest code points accepted. Default: `8`; never below 8 (ASVS 6.2.1). 15 is recommended without MFA. */
  minLength?: number
  /** Most code points accepted. Default: `128`; at least 64 (ASVS 6.2.9). */
  maxLength?: number
  /**
   * Refuse the ~49,000 most common passwords (`@zxcvbn-ts/language-common`), compared case-insensitively
   * after NFKC. Default: `true`.
   */
  blockCommon?: boolean
  /**
   * Words no password may contain, compared case-insensitively after NFKC: the app's name, the company,
   * the product. Besides these, every password is checked against the user's own email local part and
   * username. Words shorter than 4 characters are ignored (too many honest passwords contain them).
   * Default: `[]` (the service adds `mail.appName` when set).
   */
  contextWords?: readonly string[]
  /**
   * The breached-password check by k-anonymity range query (see {@link BreachedPasswordOptions}):
   * `true` for the defaults (api.pwnedpasswords.com, 2 s timeout, fail open), an object to configure it.
   * Default: `false` (off: it sends a hash prefix of every new password to a third party).
   */
  breached?: boolean | BreachedPasswordOptions
}

/** Context words shorter than this are ignored. */
const MIN_CONTEXT_WORD = 4

/**
 * The words of a user's own data a password must not contain: the email's local part, whole and split at
 * punctuation (`ada.lovelace` gives `ada.lovelace`, `lovelace`), and the username, whole and split.
 *
 * @example
 * ```ts
 * userContextWords({ email: 'ada.lovelace@example.com', username: 'countess' })
 * // ['ada.lovelace', 'lovelace', 'countess']
 * ```
 */
export function userContextWords(user: Record<string, unknown>): string[] {
  const words: string[] = []
  const add = (value: unknown) => {
    if (typeof value !== 'string') return
    const form = commonPasswordForm(value)
    for (const word of [form, ...form.split(/[^\p{L}\p{N}]+/u)]) {
      if ([...word].length >= MIN_CONTEXT_WORD && !words.includes(word)) words.push(word)
    }
  }
  if (typeof user.email === 'string') add(user.email.slice(0, Math.max(0, user.email.lastIndexOf('@'))))
  add(user.username)
  return words
}

/**
 * Length limits on new passwords, counted in Unicode code points after NFKC normalisation: 4 emoji are 4
 * characters (and too short), not the 8 UTF-16 units JavaScript's `length` reports.
 *
 * The upper bound exists because every login hashes the whole password; without one, a megabyte-long
 * password turns each attempt into a denial of service. Passwords above it are refused, never truncated.
 *
 * @throws TypeError at construction when `minLength` is below 8, `maxLength` below 64, or
 * `minLength > maxLength`.
 *
 * @example
 * ```ts
 * const policy = new PasswordPolicy({ minLength: 12 }) // maxLength stays 128
 * policy.check('correct horse battery staple') // ok
 * policy.check('short')                        // throws PasswordPolicyError, reason 'too_short'
 * ```
 */
export class PasswordPolicy {
  /** Fewest code points accepted. */
  readonly minLength: number
  /** Most code points accepted. */
  readonly maxLength: number

  /** Whether common passwords are refused. */
  readonly blockCommon: boolean
  /** The configured context words, in comparison form. */
  readonly contextWords: readonly string[]
  /** The breached-password check, or `null` when off. */
  readonly breached: BreachedPasswordCheck | null

  constructor(options: PasswordPolicyOptions = {}, logger: Logger = silentLogger) {
    const {
      minLength = 8,
      maxLength = 128,
      blockCommon = true,
      contextWords = [],
      breached = false,
    } = options
    if (typeof blockCommon !== 'boolean') throw new TypeError('blockCommon must be a boolean')
    if (!Array.isArray(contextWords) || contextWords.some((w) => typeof w !== 'string')) {
      throw new TypeError('contextWords must be a list of strings')
    }
    if (!Number.isInteger(minLength) || minLength < 8) {
      throw new TypeError(`minLength must be an integer of at least 8 (never below 8), got ${minLength}`)
    }
    if (!Number.isInteger(maxLength) || maxLength < 64) {
      throw new TypeError(`maxLength must be an integer of at least 64, got ${maxLength}`)
    }
    if (minLength > maxLength) {
      throw new TypeError(`minLength (${minLength}) must not exceed maxLength (${maxLength})`)
    }
    this.minLength = minLength
    this.maxLength = maxLength
    this.blockCommon = blockCommon
    this.contextWords = contextWords
      .map((w) => commonPasswordForm(w))
      .filter((w) => [...w].length >= MIN_CONTEXT_WORD)
    this.breached =
      breached === false ? null : new BreachedPasswordCheck(breached === true ? {} : breached, logger)
  }

  /**
   * Check a new password's length. The password is measured in its NFKC form, the form that is hashed,
   * so normalising before or after calling this gives the same answer.
   *
   * @throws PasswordPolicyError with reason `'too_short'` or `'too_long'`, and a message naming the limit.
   */
  check(password: string): void {
    const length = [...normalizePassword(password)].length
    if (length < this.minLength) {
      throw new PasswordPolicyError(
        'too_short',
        `the password must be at least ${this.minLength} characters long`,
      )
    }
    if (length > this.maxLength) {
      throw new PasswordPolicyError(
        'too_long',
        `the password must be at most ${this.maxLength} characters long`,
      )
    }
  }

  /**
   * Every rule, in order from cheapest: length ({@link check}), the context words (the configured ones
   * and `userWords`, e.g. from {@link userContextWords}), the common-password list, then the breached
   * check (a network round trip, so last).
   *
   * @throws PasswordPolicyError with reason `'too_short'`, `'too_long'`, `'context'`, `'common'` or
   * `'breached'`; BusyError when the breached check is unavailable and set to fail closed.
   *
   * @example
   * ```ts
   * await policy.validate('ada-lovelace-1815', userContextWords({ email: 'ada.lovelace@example.com' }))
   * // throws PasswordPolicyError, reason 'context'
   * ```
   */
  async validate(password: string, userWords: readonly string[] = []): Promise<void> {
    this.check(password)
    const form = commonPasswordForm(password)
    for (const word of [...this.contextWords, ...userWords]) {
      if ([...word].length >= MIN_CONTEXT_WORD && form.includes(commonPasswordForm(word))) {
        throw new PasswordPolicyError(
          'context',
          'the password must not contain your email address, your username or the name of this service',
        )
      }
    }
    if (this.blockCommon && (await isCommonPassword(password))) {
      throw new PasswordPolicyError('common', 'this password is too common: choose a less predictable one')
    }
    if (this.breached && (await this.breached.isBreached(normalizePassword(password)))) {
      throw new PasswordPolicyError(
        'breached',
        'this password appears in known data breaches: choose another one',
      )
    }
  }
}
