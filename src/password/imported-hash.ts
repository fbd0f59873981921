/**
 * Password hashes brought over from another system: which of them the built-in schemes can verify, and
 * the one foreign spelling that is rewritten on the way in (better-auth's `salt:key` scrypt).
 *
 * @module
 */

import type { PasswordSchemeName } from './password-manager.js'
import { formatPhc, parsePhc } from './phc.js'

/** A hash accepted for import, in the form it is stored, and the scheme that verifies it. */
export interface AcceptedHash {
  readonly hash: string
  /** The scheme the application must list in `hashSchemes` for this user to log in. */
  readonly scheme: PasswordSchemeName
}

/** A hash refused for import, and why. */
export interface RefusedHash {
  readonly refused: string
}

// better-auth: 16 random bytes as 32 hex digits, a colon, and a 64-byte scrypt key as 128 hex digits.
const BETTER_AUTH_SCRYPT = /^([0-9a-f]{32}):([0-9a-f]{128})$/i
// better-auth's fixed parameters (N = 2^14, r = 16, p = 1), from @better-auth/utils' password module.
const BETTER_AUTH_PARAMS = { ln: 14, r: 16, p: 1 } as const
// Bounds on what one login may cost: a hash that asks for more is refused here rather than accepted and
// left to stall (or fail) every login of its user.
const MAX_SCRYPT_MEMORY_BYTES = 2 ** 30
const MAX_ARGON2_MEMORY_KIB = 2 ** 20
// The ids whose malformed hashes are reported as malformed rather than as an unknown scheme.
const KNOWN_IDS = new Set(['argon2id', 'argon2i', 'argon2d', 'scrypt', '2', '2a', '2b', '2y'])

/**
 * Checks a hash exported from another system and returns it in the form to store, or why it is refused.
 * Never throws; the hash is never logged or echoed in a refusal.
 *
 * Accepted:
 * - argon2id PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), as argon2-cffi, pwdlib and
 *   passlib write them;
 * - bcrypt `$2a$`, `$2b$` and `$2y$`;
 * - scrypt PHC strings (`$scrypt$ln=..,r=..,p=..$salt$hash`), as this library writes them;
 * - better-auth's scrypt `<32 hex salt>:<128 hex key>`, rewritten as the equivalent scrypt PHC string
 *   (better-auth hashes with the hex text of the salt, which becomes the PHC salt bytes as is).
 *
 * Refused: plain text, argon2i and argon2d, `$2x$`, and every other scheme (pbkdf2, sha-crypt, ...).
 *
 * @example
 * ```ts
 * importedHash('$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW')
 * // { hash: '$2b$12$R9h/...', scheme: 'bcrypt' }
 * importedHash('hunter2') // { refused: 'not a password hash ...' }
 * ```
 */
export function importedHash(raw: string): AcceptedHash | RefusedHash {
  const text = raw.trim()
  if (text === '') return { refused: 'no password hash' }
  const betterAuth = BETTER_AUTH_SCRYPT.exec(text)
  if (betterAuth !== null) {
    const [, salt = '', key = ''] = betterAuth
    const hash = formatPhc({
      id: 'scrypt',
      params: BETTER_AUTH_PARAMS,
      // The salt is used as text (its hex digits), not decoded: lower-case as better-auth writes it.
      salt: Buffer.from(salt.toLowerCase(), 'utf8'),
      hash: Buffer.from(key, 'hex'),
    })
    return { hash, scheme: 'scrypt' }
  }
  if (!text.startsWith('$')) {
    return { refused: 'not a password hash (plain-text passwords are never imported)' }
  }
  const phc = parsePhc(text)
  if (phc === null) {
    const id = /^\$([a-z0-9-]{1,32})\$/.exec(text)?.[1]
    if (id === '2x') return { refused: "bcrypt '$2x$' hashes cannot be verified correctly" }
    if (id === undefined) return { refused: 'malformed password hash' }
    if (!KNOWN_IDS.has(id)) return unsupported(id)
    return { refused: `malformed '${id}' hash` }
  }
  switch (phc.id) {
    case 'bcrypt':
      return { hash: text, scheme: 'bcrypt' }
    case 'argon2id': {
      const { m, t, p } = phc.params
      const sane =
        isIntegerIn(m, 8, MAX_ARGON2_MEMORY_KIB) &&
        isIntegerIn(t, 1, 100) &&
        isIntegerIn(p, 1, 255) &&
        phc.salt !== undefined &&
        phc.hash !== undefined
      return sane ? { hash: text, scheme: 'argon2id' } : { refused: 'argon2id hash with unusable parameters' }
    }
    case 'scrypt': {
      const { ln, r, p } = phc.params
      const sane =
        phc.version === undefined &&
        isIntegerIn(ln, 1, 30) &&
        isIntegerIn(r, 1, 64) &&
        isIntegerIn(p, 1, 16) &&
        128 * r * 2 ** ln <= MAX_SCRYPT_MEMORY_BYTES &&
        phc.salt !== undefined &&
        phc.hash !== undefined &&
        phc.hash.byteLength >= 16
      return sane ? { hash: text, scheme: 'scrypt' } : { refused: 'scrypt hash with unusable parameters' }
    }
    case 'argon2i':
    case 'argon2d':
      return { refused: `${phc.id} hashes are not supported (only argon2id)` }
    default:
      return unsupported(phc.id)
  }
}

function unsupported(id: string): RefusedHash {
  return { refused: `unsupported hash scheme '${id}' (argon2id, bcrypt and scrypt are supported)` }
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}
