/**
 * Parse and format PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the self-describing
 * format that stores a password hash together with its algorithm and parameters, so parameters can rise
 * later and old hashes still verify (and get upgraded on the next login).
 *
 * bcrypt predates PHC and uses the modular-crypt form `$2b$12$<22 chars salt><31 chars hash>`; it is
 * recognised here too, as id `bcrypt`, so every stored hash goes through one parser.
 *
 * Stored hashes may come from an old system or a tampered row, so {@link parsePhc} treats its input as
 * untrusted: it returns `null` for anything it cannot parse and never throws.
 *
 * @see https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md
 * @module
 */

/**
 * A parsed PHC string.
 *
 * @example
 * ```ts
 * const phc: PhcHash = {
 *   id: 'argon2id',
 *   version: 19,
 *   params: { m: 19456, t: 2, p: 1 },
 *   salt: new Uint8Array(16),
 *   hash: new Uint8Array(32),
 * }
 * ```
 */
export interface PhcHash {
  /** The algorithm: `'argon2id'`, `'scrypt'`, `'bcrypt'`, ... */
  readonly id: string
  /** The `v=` segment, when present (argon2 writes `v=19`). */
  readonly version?: number
  /**
   * The parameters in their written order. Decimal integers are numbers, anything else stays a string.
   * For bcrypt: `{ variant: '2a' | '2b' | '2y', cost }`.
   */
  readonly params: Readonly<Record<string, number | string>>
  /** The decoded salt, when present. */
  readonly salt?: Uint8Array
  /** The decoded hash output, when present (only ever present with a salt). */
  readonly hash?: Uint8Array
}

// Long enough for any real hash; bounds the work spent on a hostile string.
const MAX_LENGTH = 4096
const NAME = /^[a-z0-9-]{1,32}$/
const PARAM_VALUE = /^[a-zA-Z0-9/+.-]+$/
// The PHC spec forbids leading zeros in decimals; such a value stays a string so formatting round-trips.
const DECIMAL = /^-?(?:0|[1-9][0-9]{0,15})$/
const VERSION = /^v=(0|[1-9][0-9]{0,8})$/
const B64 = /^[A-Za-z0-9+/]+$/
// $2x$ (the 8-bit bug of crypt_blowfish) is left out on purpose: it cannot be verified correctly.
const BCRYPT_PREFIX = /^\$2[abxy]?\$/
const BCRYPT = /^\$(2[aby])\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const STANDARD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/**
 * Parse a PHC string, or a bcrypt modular-crypt string (as id `'bcrypt'` with params `variant` and
 * `cost`). Never throws.
 *
 * Base64 fields must be unpadded standard base64 (what argon2 and our scrypt write) and canonical, so
 * that `formatPhc(parsePhc(s)) === s` for every string this accepts. bcrypt strings are the exception
 * only when their last base64 character carries stray bits, which real bcrypt never writes.
 *
 * @param input - the stored string; any value is accepted.
 * @returns the parsed hash, or `null` when the input is not a well-formed PHC or bcrypt string.
 *
 * @example
 * ```ts
 * parsePhc('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA')
 * // { id: 'argon2id', version: 19, params: { m: 19456, t: 2, p: 1 }, salt: <Buffer ...>, hash: <Buffer ...> }
 * parsePhc('$2b$12$...')  // { id: 'bcrypt', params: { variant: '2b', cost: 12 }, salt, hash }
 * parsePhc('not a hash')  // null
 * ```
 */
export function parsePhc(input: unknown): PhcHash | null {
  if (typeof input !== 'string' || input.length > MAX_LENGTH || !input.startsWith('$')) return null
  if (BCRYPT_PREFIX.test(input)) return parseBcrypt(input)

  const segments = input.split('$')
  const id = segments[1]
  if (id === undefined || !NAME.test(id)) return null
  let index = 2

  let version: number | undefined
  const versionMatch = VERSION.exec(segments[index] ?? '')
  if (versionMatch !== null) {
    version = Number(versionMatch[1])
    index++
  }

  let params: Record<string, number | string> = {}
  const paramSegment = segments[index]
  if (paramSegment?.includes('=')) {
    const parsed = parseParams(paramSegment)
    if (parsed === null) return null
    params = parsed
    index++
  }

  let salt: Uint8Array | undefined
  let hash: Uint8Array | undefined
  const saltSegment = segments[index]
  if (saltSegment !== undefined) {
    salt = decodeBase64(saltSegment) ?? undefined
    if (salt === undefined) return null
    index++
    const hashSegment = segments[index]
    if (hashSegment !== undefined) {
      hash = decodeBase64(hashSegment) ?? undefined
      if (hash === undefined) return null
      index++
    }
  }
  if (index !== segments.length) return null

  return {
    id,
    ...(version === undefined ? {} : { version }),
    params,
    ...(salt === undefined ? {} : { salt }),
    ...(hash === undefined ? {} : { hash }),
  }
}

/**
 * Format a {@link PhcHash} as a PHC string (unpadded standard base64), or as bcrypt's modular-crypt
 * form when `id` is `'bcrypt'`. The inverse of {@link parsePhc}.
 *
 * @throws TypeError when the value cannot be written as a valid string (a bad id or parameter name, a
 * hash without a salt, a bcrypt value without a 16-byte salt and 23-byte hash): it is built by our own
 * code, so a bad one is a bug to surface, not input to tolerate.
 *
 * @example
 * ```ts
 * formatPhc({ id: 'scrypt', params: { ln: 17, r: 8, p: 1 }, salt, hash })
 * // '$scrypt$ln=17,r=8,p=1$<b64 salt>$<b64 hash>'
 * ```
 */
export function formatPhc(phc: PhcHash): string {
  if (phc.id === 'bcrypt') return formatBcrypt(phc)
  if (!NAME.test(phc.id)) throw new TypeError(`invalid PHC id '${phc.id}'`)
  let out = `$${phc.id}`
  if (phc.version !== undefined) {
    if (!Number.isSafeInteger(phc.version) || phc.version < 0) {
      throw new TypeError(`invalid PHC version ${phc.version}`)
    }
    out += `$v=${phc.version}`
  }
  const params = Object.entries(phc.params)
  if (params.length > 0) {
    out += `$${params.map(([name, value]) => `${name}=${formatParamValue(name, value)}`).join(',')}`
  }
  if (phc.hash !== undefined && phc.salt === undefined) throw new TypeError('a PHC hash needs a salt')
  if (phc.salt !== undefined) out += `$${encodeBase64(phc.salt)}`
  if (phc.hash !== undefined) out += `$${encodeBase64(phc.hash)}`
  return out
}

function parseParams(segment: string): Record<string, number | string> | null {
  const params: Record<string, number | string> = {}
  for (const pair of segment.split(',')) {
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    if (eq < 0 || !NAME.test(name) || !PARAM_VALUE.test(value) || Object.hasOwn(params, name)) return null
    params[name] = DECIMAL.test(value) && Number.isSafeInteger(Number(value)) ? Number(value) : value
  }
  return params
}

function formatParamValue(name: string, value: number | string): string {
  if (!NAME.test(name)) throw new TypeError(`invalid PHC parameter name '${name}'`)
  const text = String(value)
  const valid = typeof value === 'number' ? Number.isSafeInteger(value) : PARAM_VALUE.test(text)
  if (!valid) throw new TypeError(`invalid value for PHC parameter '${name}'`)
  return text
}

function decodeBase64(text: string): Uint8Array | null {
  if (!B64.test(text) || text.length % 4 === 1) return null
  const bytes = Buffer.from(text, 'base64')
  // Buffer ignores stray trailing bits; refusing them keeps one spelling per value, so hashes round-trip.
  return encodeBase64(bytes) === text ? bytes : null
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '')
}

function parseBcrypt(input: string): PhcHash | null {
  const match = BCRYPT.exec(input)
  if (match === null) return null
  const [, variant, cost, salt, hash] = match
  if (variant === undefined || cost === undefined || salt === undefined || hash === undefined) return null
  const rounds = Number(cost)
  if (rounds < 4 || rounds > 31) return null
  return {
    id: 'bcrypt',
    params: { variant, cost: rounds },
    salt: decodeBcryptBase64(salt),
    hash: decodeBcryptBase64(hash),
  }
}

function formatBcrypt(phc: PhcHash): string {
  const { variant, cost } = phc.params
  if (variant !== '2a' && variant !== '2b' && variant !== '2y') {
    throw new TypeError(`invalid bcrypt variant '${String(variant)}'`)
  }
  if (typeof cost !== 'number' || !Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`invalid bcrypt cost '${String(cost)}'`)
  }
  if (phc.salt?.byteLength !== 16 || phc.hash?.byteLength !== 23) {
    throw new TypeError('bcrypt needs a 16-byte salt and a 23-byte hash')
  }
  const rounds = String(cost).padStart(2, '0')
  return `$${variant}$${rounds}$${encodeBcryptBase64(phc.salt)}${encodeBcryptBase64(phc.hash)}`
}

// bcrypt's base64 is the standard bit layout over another alphabet, so translating characters is enough.
// The last character's unused bits are not checked: real bcrypt always writes them as zero, and a hash
// imported from elsewhere must not be refused over them.
function decodeBcryptBase64(text: string): Uint8Array {
  return Buffer.from(translate(text, BCRYPT_ALPHABET, STANDARD_ALPHABET), 'base64')
}

function encodeBcryptBase64(bytes: Uint8Array): string {
  return translate(encodeBase64(bytes), STANDARD_ALPHABET, BCRYPT_ALPHABET)
}

function translate(text: string, from: string, to: string): string {
  let out = ''
  for (const char of text) out += to[from.indexOf(char)] ?? ''
  return out
}
