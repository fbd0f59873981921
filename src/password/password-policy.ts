/**
 * The password rules the library enforces itself: Unicode normalisation and length, nothing more.
 *
 * Composition rules ("a digit and a symbol") are left out on purpose: NIST SP 800-63B-4 §3.1.1.2 and
 * ASVS 6.2.5 forbid them, because they push users to predictable patterns. Blocklists and
 * application-specific rules plug in at the service level.
 *
 * @module
 */

import { PasswordPolicyError } from '../core/errors.js'

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

  constructor(options: PasswordPolicyOptions = {}) {
    const { minLength = 8, maxLength = 128 } = options
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
}
