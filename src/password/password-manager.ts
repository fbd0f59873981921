/**
 * The one object the user service talks to for passwords: it normalises, hashes with the current
 * scheme, verifies with any configured scheme, upgrades outdated hashes on login, and makes an unknown
 * user cost the same work as a wrong password.
 *
 * @module
 */

import { randomBytes } from 'node:crypto'
import { BusyError, PasswordPolicyError } from '../kernel/errors.js'
import type { Argon2idHasherOptions } from './argon2-hasher.js'
import { Argon2idHasher } from './argon2-hasher.js'
import type { BcryptHasherOptions } from './bcrypt-hasher.js'
import { BcryptHasher } from './bcrypt-hasher.js'
import type { HashQueueOptions } from './hash-queue.js'
import { HashQueue } from './hash-queue.js'
import type { PasswordHasher } from './password-hasher.js'
import { normalizePassword } from './password-policy.js'
import type { ScryptHasherOptions } from './scrypt-hasher.js'
import { ScryptHasher } from './scrypt-hasher.js'

/** The built-in schemes a {@link PasswordManager} can be configured with by name. */
export type PasswordSchemeName = 'argon2id' | 'scrypt' | 'bcrypt'

const SCHEME_NAMES: readonly PasswordSchemeName[] = ['argon2id', 'scrypt', 'bcrypt']

/** Options of {@link PasswordManager}. */
export interface PasswordManagerOptions extends HashQueueOptions {
  /**
   * The schemes, by name or as {@link PasswordHasher} objects. The first one hashes new passwords; every
   * one listed verifies, and a hash of any but the first is replaced on the next successful login.
   * Default: `['argon2id']`.
   */
  schemes?: ReadonlyArray<PasswordSchemeName | PasswordHasher>
  /** Parameters of the `'argon2id'` scheme. Default: `{ memoryCost: 19456, timeCost: 2, parallelism: 1 }`. */
  argon2?: Argon2idHasherOptions
  /** Parameters of the `'scrypt'` scheme. Default: `{ logN: 17, blockSize: 8, parallelization: 1 }`. */
  scrypt?: ScryptHasherOptions
  /** Parameters of the `'bcrypt'` scheme. Default: `{ cost: 12 }`. */
  bcrypt?: BcryptHasherOptions
}

/** The outcome of {@link PasswordManager.verify}. */
export interface PasswordVerifyResult {
  /** Whether the password matches. */
  readonly valid: boolean
  /**
   * Present only when `valid` and the stored hash is outdated (another scheme, or other parameters):
   * a fresh hash with the current scheme, for the caller to store in place of the old one.
   */
  readonly newHash?: string
}

/**
 * Hashes and verifies passwords for the user service.
 *
 * - Passwords are NFKC-normalised first, identically at set and verify time.
 * - Every hash and verification goes through one {@link HashQueue}, so a login burst cannot take over
 *   libuv's thread pool; past `maxQueued` waiting tasks, calls reject with `BusyError`.
 * - Verify-and-update (passlib's `deprecated="auto"`): a correct password whose hash is of an older
 *   scheme or older parameters comes back with `newHash`.
 * - An unknown user (`hash === null`) or an unrecognised hash still runs one verification, against a
 *   dummy hash of the first scheme, so it takes as long as a wrong password (docs/security.md, "Enumeration and timing").
 *
 * The password policy is not checked here: call {@link PasswordPolicy.check} before {@link hash} for a
 * new password. Logins must not be refused on policy grounds, or a policy change would lock users out.
 *
 * @throws TypeError at construction for an empty or duplicated scheme list, an unknown scheme name, a
 * malformed custom hasher, or parameters below the ASVS minimums (see each hasher).
 *
 * @example
 * ```ts
 * const passwords = new PasswordManager({ schemes: ['argon2id', 'bcrypt'] })
 *
 * const stored = await passwords.hash('correct horse battery staple')
 *
 * const user = await users.findByEmail(email) // null when unknown
 * const { valid, newHash } = await passwords.verify(password, user?.passwordHash ?? null)
 * if (!valid) throw new InvalidCredentialsError()
 * if (newHash !== undefined) await users.update(user!.id, { passwordHash: newHash })
 * ```
 */
export class PasswordManager {
  /** The resolved schemes, in the configured order; the first one hashes. */
  readonly hashers: readonly PasswordHasher[]
  /** The queue every hash and verification runs through; its counts are useful for metrics. */
  readonly queue: HashQueue
  readonly #primary: PasswordHasher
  #dummyHash: Promise<string> | undefined

  constructor(options: PasswordManagerOptions = {}) {
    const { schemes = ['argon2id'], concurrency, maxQueued } = options
    if (!Array.isArray(schemes) || schemes.length === 0) {
      throw new TypeError(`schemes must list at least one of ${formatNames()} (or a PasswordHasher)`)
    }
    const hashers = schemes.map((scheme: PasswordSchemeName | PasswordHasher) =>
      resolveScheme(scheme, options),
    )
    const ids = new Set<string>()
    for (const { id } of hashers) {
      if (ids.has(id)) throw new TypeError(`password scheme '${id}' is listed twice`)
      ids.add(id)
    }
    this.hashers = Object.freeze(hashers)
    this.#primary = hashers[0]!
    this.queue = new HashQueue({
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(maxQueued === undefined ? {} : { maxQueued }),
    })
  }

  /**
   * Hash a new password with the first scheme, after NFKC normalisation.
   *
   * @throws BusyError when the hash queue is full.
   * @throws PasswordPolicyError with reason `'too_long_for_scheme'` when the first scheme is bcrypt and
   * the password exceeds 72 bytes.
   */
  hash(password: string): Promise<string> {
    const normalized = normalizePassword(password)
    return this.queue.run(() => this.#primary.hash(normalized))
  }

  /**
   * Check a password against a stored hash, after NFKC normalisation.
   *
   * @param hash - the stored hash, or `null` when no user matched: a dummy verification then runs so
   * both cases cost the same.
   * @returns `{ valid: false }` on any mismatch; `{ valid: true }`, plus `newHash` when the stored hash
   * should be replaced. A failed upgrade never fails the login: on a full queue, or when the first
   * scheme cannot take this password (bcrypt over 72 bytes), `newHash` is left out and the old hash stays.
   * @throws BusyError when the hash queue is full.
   */
  async verify(password: string, hash: string | null): Promise<PasswordVerifyResult> {
    const normalized = normalizePassword(password)
    const hasher = hash === null ? undefined : this.hashers.find((candidate) => candidate.canVerify(hash))
    if (hash === null || hasher === undefined) {
      const dummy = await this.#dummy()
      await this.queue.run(() => this.#primary.verify(dummy, normalized))
      return { valid: false }
    }
    const valid = await this.queue.run(() => hasher.verify(hash, normalized))
    if (!valid) return { valid: false }
    if (hasher === this.#primary && !this.#primary.needsRehash(hash)) return { valid: true }
    try {
      return { valid: true, newHash: await this.queue.run(() => this.#primary.hash(normalized)) }
    } catch (err) {
      if (err instanceof BusyError || err instanceof PasswordPolicyError) return { valid: true }
      throw err
    }
  }

  /**
   * Whether a stored hash should be replaced: it is not of the first scheme, or the first scheme's
   * parameters have changed since it was made.
   *
   * @example
   * ```ts
   * passwords.needsRehash('$2b$10$...') // true with schemes ['argon2id', 'bcrypt']
   * ```
   */
  needsRehash(hash: string): boolean {
    return !this.#primary.canVerify(hash) || this.#primary.needsRehash(hash)
  }

  // Made on first need rather than at construction, so building a manager stays synchronous and free.
  // A failure (a full queue) is not cached: the next unknown-user login tries again.
  #dummy(): Promise<string> {
    this.#dummyHash ??= this.queue
      .run(() => this.#primary.hash(randomBytes(24).toString('base64url')))
      .catch((err: unknown) => {
        this.#dummyHash = undefined
        throw err
      })
    return this.#dummyHash
  }
}

function resolveScheme(
  scheme: PasswordSchemeName | PasswordHasher,
  options: PasswordManagerOptions,
): PasswordHasher {
  if (typeof scheme === 'string') {
    switch (scheme) {
      case 'argon2id':
        return new Argon2idHasher(options.argon2)
      case 'scrypt':
        return new ScryptHasher(options.scrypt)
      case 'bcrypt':
        return new BcryptHasher(options.bcrypt)
      default:
        throw new TypeError(
          `unknown password scheme '${String(scheme)}'; known schemes: ${formatNames()} (or pass a PasswordHasher)`,
        )
    }
  }
  if (!isPasswordHasher(scheme)) {
    throw new TypeError(
      'a custom password scheme must be a PasswordHasher: { id, hash, verify, canVerify, needsRehash }',
    )
  }
  return scheme
}

function isPasswordHasher(value: unknown): value is PasswordHasher {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Partial<Record<keyof PasswordHasher, unknown>>
  return (
    typeof candidate.id === 'string' &&
    candidate.id.length > 0 &&
    typeof candidate.hash === 'function' &&
    typeof candidate.verify === 'function' &&
    typeof candidate.canVerify === 'function' &&
    typeof candidate.needsRehash === 'function'
  )
}

function formatNames(): string {
  return SCHEME_NAMES.map((name) => `'${name}'`).join(', ')
}
