/**
 * The port every password hashing scheme implements. The core imports only this interface, never a
 * concrete hasher, so an application can bring its own scheme (a legacy format it is migrating from,
 * an HSM-backed one) without touching the library.
 *
 * @module
 */

/**
 * One password hashing scheme with its parameters.
 *
 * Hashes are self-describing strings (PHC, or bcrypt's modular-crypt form) that carry the scheme and its
 * parameters, so a {@link PasswordManager} can pick the right hasher for a stored hash, and tell when it
 * was made with parameters other than the current ones.
 *
 * Implementations must do their heavy work off the event loop (native async or a worker), and `verify`
 * must compare in constant time.
 *
 * @example
 * ```ts
 * import { createHash, timingSafeEqual } from 'node:crypto'
 *
 * // Hashes imported from an old system, '$sha256$<hex salt>$<hex digest>': verify-only, so every
 * // successful login replaces them with the first scheme's hash.
 * const legacy: PasswordHasher = {
 *   id: 'legacy-sha256',
 *   hash: () => Promise.reject(new Error('legacy-sha256 only verifies')),
 *   async verify(hash, password) {
 *     const [, , salt = '', digest = ''] = hash.split('$')
 *     const expected = Buffer.from(digest, 'hex')
 *     const actual = createHash('sha256').update(salt + password).digest()
 *     return expected.length === actual.length && timingSafeEqual(expected, actual)
 *   },
 *   canVerify: (hash) => /^\$sha256\$[0-9a-f]+\$[0-9a-f]{64}$/.test(hash),
 *   needsRehash: () => true,
 * }
 * const passwords = new PasswordManager({ schemes: ['argon2id', legacy] })
 * ```
 */
export interface PasswordHasher {
  /** The scheme's name: `'argon2id'`, `'scrypt'`, `'bcrypt'`, or a custom one. */
  readonly id: string
  /**
   * Hash a password with a fresh random salt.
   *
   * @param password - already NFKC-normalised by the caller; hashed exactly as given.
   * @returns the self-describing hash string.
   */
  hash(password: string): Promise<string>
  /**
   * Check a password against a stored hash.
   *
   * @returns `true` on a match; `false` on a mismatch and on a malformed or foreign hash. Never throws
   * for a bad hash: a stored value is data, and a broken row must not turn a login into a 500.
   */
  verify(hash: string, password: string): Promise<boolean>
  /** Whether `hash` is a well-formed hash of this scheme. Cheap and synchronous; never throws. */
  canVerify(hash: string): boolean
  /**
   * Whether `hash` should be replaced by a fresh one: its parameters differ from this hasher's, or it
   * is not a hash of this scheme at all. Never throws.
   */
  needsRehash(hash: string): boolean
}
