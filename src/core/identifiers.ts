/**
 * Canonical forms of the values users are looked up by. Each value is canonicalised once, before it is
 * validated, stored, compared or used as a mail recipient, so that those four always see the same string
 * (docs/security.md, "Input and output": validate after normalising, never before).
 *
 * @module
 */
import { ValidationError } from '../kernel/errors.js'
import { checkStorableText } from './storable-text.js'

/** Longest email address stored: RFC 5321's longest local part (64) and domain (255), with the `@`. */
export const MAX_EMAIL_LENGTH = 320

// One unquoted @; a local part of printable characters without quotes, backslashes, spaces or angle
// brackets (these are what let `"a@evil"@victim` or header injection through mail parsers); a domain of
// letters, digits, hyphens and dots with at least one dot.
const EMAIL =
  /^[^\s@"'`\\<>(),;:[\]\p{Cc}]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}\p{N}][\p{L}\p{N}-]*[\p{L}\p{N}]$/u

/**
 * The check every email address passes once canonicalised (see {@link canonicalEmail}), as a JSON Schema
 * `pattern` (an ECMAScript regular expression with the `u` flag), so that an OpenAPI document can declare
 * exactly what the server accepts and returns, international addresses included.
 *
 * @example
 * ```ts
 * new RegExp(EMAIL_PATTERN, 'u').test('josé@exämple.com') // true
 * ```
 */
export const EMAIL_PATTERN = EMAIL.source

/**
 * The one canonicalisation of every identifier (email, username, role name, the application's login
 * column): NFKC-normalised, trimmed, lower-cased. Lookups, uniqueness, stored values and the login
 * throttle's key all come from it, and the database compares the result byte for byte (binary collation),
 * so two strings name the same account exactly when this function maps them to the same string: an
 * accented variant (`álice@...`) is another identifier, never a second key to the same account.
 *
 * @example
 * ```ts
 * foldIdentifier('  Ａlice@Example.COM ') // 'alice@example.com' (the fullwidth Ａ is NFKC-folded)
 * foldIdentifier('álice@example.com') // 'álice@example.com': accents are kept, so it names another account
 * ```
 */
export function foldIdentifier(value: string): string {
  return value.normalize('NFKC').trim().toLowerCase()
}

/** Trims, NFKC-normalises and lower-cases an email address (see {@link foldIdentifier}). */
export function normalizeEmail(value: string): string {
  return foldIdentifier(value)
}

/**
 * Canonicalises and validates an email address; throws {@link ValidationError} when it is not one.
 *
 * @example
 * ```ts
 * canonicalEmail('  Bob@Example.COM ') // 'bob@example.com'
 * ```
 */
export function canonicalEmail(value: unknown, field = 'email'): string {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string`)
  const email = normalizeEmail(value)
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
    throw new ValidationError(field, `${field} is not a valid email address`)
  }
  return email
}

const USERNAME = /^[\p{L}\p{N}._-]{3,64}$/u

/** Canonicalises and validates a username: 3 to 64 letters, digits, `.`, `_` or `-`, lower-cased. */
export function canonicalUsername(value: unknown, field = 'username'): string {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string`)
  const username = foldIdentifier(value)
  if (!USERNAME.test(username)) {
    throw new ValidationError(field, `${field} must be 3 to 64 letters, digits, '.', '_' or '-'`)
  }
  return username
}

const ROLE_NAME = /^[\p{L}\p{N}._:-]{1,64}$/u

/** Canonicalises and validates a role name: 1 to 64 letters, digits, `.`, `_`, `:` or `-`, lower-cased. */
export function canonicalRoleName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string`)
  const name = foldIdentifier(value)
  if (!ROLE_NAME.test(name)) {
    throw new ValidationError(field, `${field} must be 1 to 64 letters, digits, '.', '_', ':' or '-'`)
  }
  return name
}

/**
 * Canonicalises the value of the login identifier column. `email` and `username` are validated; any other
 * unique column chosen by the application is compared trimmed, NFKC-normalised and lower-cased.
 */
export function canonicalIdentifier(identifier: string, value: unknown): string {
  if (identifier === 'email') return canonicalEmail(value)
  if (identifier === 'username') return canonicalUsername(value)
  if (typeof value !== 'string' || value.length === 0 || value.length > 320) {
    throw new ValidationError(identifier, `${identifier} must be a non-empty string`)
  }
  const folded = foldIdentifier(checkStorableText(identifier, value))
  if (folded.length === 0) throw new ValidationError(identifier, `${identifier} must be a non-empty string`)
  return folded
}
