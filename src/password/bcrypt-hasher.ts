/**
 * bcrypt, for users imported from systems that stored it (`$2a$`, `$2b$`, `$2y$`). List it after a
 * modern scheme so those hashes verify and are replaced on the next login.
 *
 * bcrypt reads only the first 72 bytes of a password and silently ignores the rest. We never allow that
 * (ASVS 6.2.8; docs/security.md, "Passwords"): a longer password is refused, never cut.
 *
 * @module
 */

import { PasswordPolicyError } from '../kernel/errors.js'
import { loadOnce } from '../kernel/load-once.js'
import type { PasswordHasher } from './password-hasher.js'
import { parsePhc } from './phc.js'

/** The `@node-rs/bcrypt` module. */
export type BcryptBinding = typeof import('@node-rs/bcrypt')

/**
 * `@node-rs/bcrypt`, imported once, on the first call: only applications that configure the bcrypt
 * scheme load its native binding. The plugin calls it at registration, so a missing package fails there.
 *
 * @example
 * ```ts
 * const { hash } = await bcryptBinding()
 * ```
 */
export const bcryptBinding: () => Promise<BcryptBinding> = loadOnce(() => import('@node-rs/bcrypt'))

/** Options of {@link BcryptHasher}. */
export interface BcryptHasherOptions {
  /** log2 of the number of rounds. Default: `12`; at least `10` (ASVS 5.0 Appendix C). */
  cost?: number
}

/** The most bytes bcrypt reads from a password; anything after them would be ignored. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72

/**
 * bcrypt password hasher over `@node-rs/bcrypt` (async, on libuv's thread pool). Produces `$2y$` hashes
 * (the same algorithm as `$2b$`) and verifies `$2a$`, `$2b$` and `$2y$`.
 *
 * @throws TypeError at construction when `cost` is not an integer from 10 to 31.
 *
 * @example
 * ```ts
 * // Verify users imported from a PHP application, and move them to argon2id as they log in.
 * const passwords = new PasswordManager({ schemes: ['argon2id', 'bcrypt'] })
 *
 * const bcrypt = new BcryptHasher({ cost: 12 })
 * await bcrypt.hash('x'.repeat(73)) // throws PasswordPolicyError('too_long_for_scheme')
 * ```
 */
export class BcryptHasher implements PasswordHasher {
  readonly id = 'bcrypt'
  /** log2 of the number of rounds. */
  readonly cost: number

  constructor(options: BcryptHasherOptions = {}) {
    const { cost = 12 } = options
    if (!Number.isInteger(cost) || cost < 10 || cost > 31) {
      throw new TypeError(
        `bcrypt cost must be an integer from 10 (the OWASP ASVS 5.0 minimum) to 31, got ${cost}; ` +
          'use the default 12, or prefer argon2id for new hashes',
      )
    }
    this.cost = cost
  }

  /**
   * Hash `password`.
   *
   * @throws PasswordPolicyError with reason `'too_long_for_scheme'` when the password is longer than 72
   * UTF-8 bytes, since bcrypt would silently ignore the excess.
   */
  async hash(password: string): Promise<string> {
    if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES) {
      throw new PasswordPolicyError(
        'too_long_for_scheme',
        `bcrypt cannot hash passwords longer than ${BCRYPT_MAX_PASSWORD_BYTES} bytes; ` +
          'use a shorter password, or hash new passwords with argon2id',
      )
    }
    const { hash } = await bcryptBinding()
    return hash(password, this.cost)
  }

  /**
   * Verify `password` against a `$2a$`, `$2b$` or `$2y$` hash. `false` on a malformed hash, and `false`
   * for a password longer than 72 UTF-8 bytes, which bcrypt would otherwise match on its prefix.
   */
  async verify(hash: string, password: string): Promise<boolean> {
    if (!this.canVerify(hash)) return false
    const tooLong = Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES
    const { verify } = await bcryptBinding()
    let matches: boolean
    try {
      // A refused long password still pays for a full verification: answering at once would tell an
      // attacker, through timing, that this account exists and holds a bcrypt hash.
      matches = await verify(password, hash)
    } catch {
      return false
    }
    return matches && !tooLong
  }

  /** Whether `hash` is a well-formed `$2a$`, `$2b$` or `$2y$` bcrypt string. */
  canVerify(hash: string): boolean {
    return parsePhc(hash)?.id === 'bcrypt'
  }

  /** Whether `hash` was made with another cost than this hasher's, or is not bcrypt. */
  needsRehash(hash: string): boolean {
    const phc = parsePhc(hash)
    return phc?.id !== 'bcrypt' || phc.params.cost !== this.cost
  }
}
