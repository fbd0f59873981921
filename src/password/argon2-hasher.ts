/**
 * Argon2id, the default password hashing scheme (OWASP Password Storage Cheat Sheet, ASVS 5.0 App. C).
 *
 * Built on `@node-rs/argon2`, whose async `hash` and `verify` run on libuv's thread pool, so a login
 * never blocks the event loop.
 *
 * @module
 */

import type { Algorithm, Version } from '@node-rs/argon2'
import { loadOnce } from '../kernel/load-once.js'
import type { PasswordHasher } from './password-hasher.js'
import { type PhcHash, parsePhc } from './phc.js'

/** The `@node-rs/argon2` module. */
export type Argon2Binding = typeof import('@node-rs/argon2')

/**
 * `@node-rs/argon2`, imported once, on the first call: an application whose schemes leave argon2id out
 * does not load its native binding. The plugin calls it at registration, so a missing package fails there.
 *
 * @example
 * ```ts
 * const { hash } = await argon2Binding()
 * ```
 */
export const argon2Binding: () => Promise<Argon2Binding> = loadOnce(() => import('@node-rs/argon2'))

/** Options of {@link Argon2idHasher}. */
export interface Argon2idHasherOptions {
  /** Memory in KiB (`m`). Default: `19456` (19 MiB). */
  memoryCost?: number
  /** Number of passes (`t`). Default: `2`. */
  timeCost?: number
  /** Number of lanes (`p`). Default: `1`. */
  parallelism?: number
}

// The package declares these as ambient const enums, which isolatedModules cannot read at runtime.
const ARGON2ID: Algorithm.Argon2id = 2
const VERSION_0X13: Version.V0x13 = 1
const PHC_VERSION = 0x13
const MAX_U32 = 0xffffffff

/**
 * The smallest memory cost (KiB) ASVS 5.0 Appendix C accepts for a given time cost:
 * t=1 needs m >= 47104, t=2 needs m >= 19456, t >= 3 needs m >= 12288.
 */
function minimumMemoryCost(timeCost: number): number {
  if (timeCost === 1) return 47104
  if (timeCost === 2) return 19456
  return 12288
}

/**
 * Argon2id password hasher producing PHC strings such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`
 * (16-byte random salt, 32-byte output).
 *
 * @throws TypeError at construction when a parameter is not an integer in range, or below the OWASP ASVS
 * 5.0 Appendix C minimums: (t=1, m>=47104), (t=2, m>=19456), (t>=3, m>=12288), p>=1.
 *
 * @example
 * ```ts
 * const argon2 = new Argon2idHasher() // m=19456, t=2, p=1
 * const stored = await argon2.hash('correct horse battery staple')
 * await argon2.verify(stored, 'correct horse battery staple') // true
 * argon2.needsRehash(stored) // false
 * new Argon2idHasher({ memoryCost: 12288, timeCost: 3 }) // also legal: less memory, more passes
 * ```
 */
export class Argon2idHasher implements PasswordHasher {
  readonly id = 'argon2id'
  /** Memory in KiB (`m`). */
  readonly memoryCost: number
  /** Number of passes (`t`). */
  readonly timeCost: number
  /** Number of lanes (`p`). */
  readonly parallelism: number
  #lastHash: string | undefined
  #lastParsed: PhcHash | null = null

  constructor(options: Argon2idHasherOptions = {}) {
    const { memoryCost = 19456, timeCost = 2, parallelism = 1 } = options
    assertInteger('timeCost', timeCost, 1, MAX_U32)
    assertInteger('parallelism', parallelism, 1, 255)
    assertInteger('memoryCost', memoryCost, 1, MAX_U32)
    const minimum = minimumMemoryCost(timeCost)
    if (memoryCost < minimum) {
      throw new TypeError(
        `argon2id memoryCost ${memoryCost} KiB is below the OWASP ASVS 5.0 minimum for timeCost ${timeCost}; ` +
          `use memoryCost >= ${minimum}, or the default { memoryCost: 19456, timeCost: 2, parallelism: 1 }`,
      )
    }
    this.memoryCost = memoryCost
    this.timeCost = timeCost
    this.parallelism = parallelism
  }

  /** Hash `password` with a fresh salt. Runs on libuv's thread pool. */
  async hash(password: string): Promise<string> {
    const { hash } = await argon2Binding()
    return hash(password, {
      algorithm: ARGON2ID,
      version: VERSION_0X13,
      memoryCost: this.memoryCost,
      timeCost: this.timeCost,
      parallelism: this.parallelism,
    })
  }

  /** Verify `password` against any argon2id hash, whatever its parameters. `false` on a malformed hash. */
  async verify(hash: string, password: string): Promise<boolean> {
    if (!this.canVerify(hash)) return false
    const { verify } = await argon2Binding()
    try {
      return await verify(hash, password)
    } catch {
      return false
    }
  }

  /** Whether `hash` is a well-formed argon2id PHC string. */
  canVerify(hash: string): boolean {
    return this.#parse(hash) !== null
  }

  /** Whether `hash` was made with another m, t, p or version than this hasher's, or is not argon2id. */
  needsRehash(hash: string): boolean {
    const phc = this.#parse(hash)
    if (phc === null) return true
    const { version, params } = phc
    return (
      version !== PHC_VERSION ||
      params.m !== this.memoryCost ||
      params.t !== this.timeCost ||
      params.p !== this.parallelism
    )
  }

  /**
   * The parsed hash when it is a well-formed argon2id PHC string, else `null`. A login asks about one hash
   * several times in a row (which scheme verifies it, the verification, whether it is outdated), so the
   * last answer is kept: a string is immutable, so the same string always parses the same.
   */
  #parse(hash: string): PhcHash | null {
    if (hash === this.#lastHash) return this.#lastParsed
    let phc = parsePhc(hash)
    if (phc?.id !== 'argon2id' || phc.salt === undefined || phc.hash === undefined) phc = null
    else {
      const { m, t, p } = phc.params
      if (!(isPositiveInteger(m) && isPositiveInteger(t) && isPositiveInteger(p))) phc = null
    }
    this.#lastHash = hash
    this.#lastParsed = phc
    return phc
  }
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`argon2id ${name} must be an integer from ${min} to ${max}, got ${value}`)
  }
}
