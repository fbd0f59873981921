/**
 * scrypt over `node:crypto`, for deployments that cannot load a native addon. Node's async `scrypt`
 * runs on libuv's thread pool, off the event loop.
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { PasswordHasher } from './password-hasher.js'
import { formatPhc, parsePhc } from './phc.js'

/** Options of {@link ScryptHasher}. */
export interface ScryptHasherOptions {
  /** log2 of the CPU/memory cost N (written as `ln` in the hash). Default: `17` (N = 131072). */
  logN?: number
  /** Block size r. Default: `8`. */
  blockSize?: number
  /** Parallelisation p. Default: `1`. */
  parallelization?: number
}

const SALT_BYTES = 16
const KEY_BYTES = 32
// Far above any cost that answers a login in under a second; stops a tampered row (ln=40) from
// asking OpenSSL for terabytes.
const MAX_MEMORY_BYTES = 2 ** 32
const MAX_LOG_N = 31
const MAX_BLOCK_SIZE = 1024
const MAX_PARALLELIZATION = 1024
const MIN_KEY_BYTES = 16
const MAX_KEY_BYTES = 1024

/** ASVS 5.0 Appendix C: N >= 2^17 with p=1, N >= 2^16 with p=2, N >= 2^15 with p >= 3; r = 8. */
function minimumLogN(parallelization: number): number {
  if (parallelization === 1) return 17
  if (parallelization === 2) return 16
  return 15
}

/**
 * scrypt password hasher producing `$scrypt$ln=17,r=8,p=1$<b64 salt>$<b64 hash>` (16-byte random salt,
 * 32-byte key, unpadded standard base64). Verification recomputes the key with the parameters stored in
 * the hash and compares with `crypto.timingSafeEqual`.
 *
 * @throws TypeError at construction when a parameter is not an integer in range, when blockSize is below
 * 8, or when N is below the OWASP ASVS 5.0 Appendix C minimums: N >= 2^17 with p=1, N >= 2^16 with p=2,
 * N >= 2^15 with p >= 3.
 *
 * @example
 * ```ts
 * const scryptHasher = new ScryptHasher() // N=2^17, r=8, p=1: 128 MiB per hash
 * const stored = await scryptHasher.hash('correct horse battery staple')
 * // '$scrypt$ln=17,r=8,p=1$...$...'
 * await scryptHasher.verify(stored, 'correct horse battery staple') // true
 * ```
 */
export class ScryptHasher implements PasswordHasher {
  readonly id = 'scrypt'
  /** log2 of N. */
  readonly logN: number
  /** Block size r. */
  readonly blockSize: number
  /** Parallelisation p. */
  readonly parallelization: number

  constructor(options: ScryptHasherOptions = {}) {
    const { logN = 17, blockSize = 8, parallelization = 1 } = options
    assertInteger('logN', logN, 1, MAX_LOG_N)
    assertInteger('blockSize', blockSize, 1, MAX_BLOCK_SIZE)
    assertInteger('parallelization', parallelization, 1, MAX_PARALLELIZATION)
    const minimum = minimumLogN(parallelization)
    if (blockSize < 8 || logN < minimum) {
      throw new TypeError(
        `scrypt N=2^${logN}, r=${blockSize}, p=${parallelization} is below the OWASP ASVS 5.0 minimum; ` +
          `use blockSize >= 8 and logN >= ${minimum} for parallelization ${parallelization}, ` +
          'or the default { logN: 17, blockSize: 8, parallelization: 1 }',
      )
    }
    if (memoryBytes(logN, blockSize) > MAX_MEMORY_BYTES) {
      throw new TypeError(`scrypt N=2^${logN}, r=${blockSize} needs more than 4 GiB per hash`)
    }
    this.logN = logN
    this.blockSize = blockSize
    this.parallelization = parallelization
  }

  /** Hash `password` with a fresh 16-byte salt. Runs on libuv's thread pool. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const key = await deriveKey(password, salt, KEY_BYTES, this.logN, this.blockSize, this.parallelization)
    return formatPhc({
      id: 'scrypt',
      params: { ln: this.logN, r: this.blockSize, p: this.parallelization },
      salt,
      hash: key,
    })
  }

  /** Verify `password` against any scrypt hash, whatever its parameters. `false` on a malformed hash. */
  async verify(hash: string, password: string): Promise<boolean> {
    const parsed = parseScrypt(hash)
    if (parsed === null) return false
    try {
      const key = await deriveKey(password, parsed.salt, parsed.key.byteLength, parsed.ln, parsed.r, parsed.p)
      return timingSafeEqual(key, parsed.key)
    } catch {
      return false
    }
  }

  /** Whether `hash` is a well-formed scrypt PHC string with parameters this hasher can compute. */
  canVerify(hash: string): boolean {
    return parseScrypt(hash) !== null
  }

  /** Whether `hash` was made with another N, r or p than this hasher's, or is not scrypt. */
  needsRehash(hash: string): boolean {
    const parsed = parseScrypt(hash)
    return (
      parsed === null ||
      parsed.ln !== this.logN ||
      parsed.r !== this.blockSize ||
      parsed.p !== this.parallelization
    )
  }
}

interface ParsedScrypt {
  ln: number
  r: number
  p: number
  salt: Uint8Array
  key: Uint8Array
}

function parseScrypt(hash: string): ParsedScrypt | null {
  const phc = parsePhc(hash)
  if (phc?.id !== 'scrypt' || phc.version !== undefined || phc.salt === undefined) return null
  const { ln, r, p } = phc.params
  const key = phc.hash
  if (
    !isIntegerIn(ln, 1, MAX_LOG_N) ||
    !isIntegerIn(r, 1, MAX_BLOCK_SIZE) ||
    !isIntegerIn(p, 1, MAX_PARALLELIZATION) ||
    key === undefined ||
    key.byteLength < MIN_KEY_BYTES ||
    key.byteLength > MAX_KEY_BYTES ||
    memoryBytes(ln, r) > MAX_MEMORY_BYTES
  ) {
    return null
  }
  return { ln, r, p, salt: phc.salt, key }
}

function memoryBytes(logN: number, blockSize: number): number {
  return 128 * blockSize * 2 ** logN
}

function deriveKey(
  password: string,
  salt: Uint8Array,
  length: number,
  logN: number,
  blockSize: number,
  parallelization: number,
): Promise<Buffer> {
  const N = 2 ** logN
  // OpenSSL needs 128·r·(N + 2) bytes for V plus 128·r·p for B; Node's 32 MiB default refuses N = 2^17.
  const maxmem = 128 * blockSize * (N + 2 + parallelization)
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N, r: blockSize, p: parallelization, maxmem }, (err, key) => {
      if (err === null) resolve(key)
      else reject(err)
    })
  })
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!isIntegerIn(value, min, max)) {
    throw new TypeError(`scrypt ${name} must be an integer from ${min} to ${max}, got ${value}`)
  }
}
