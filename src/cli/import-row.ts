/**
 * One row of an import file turned into a user to add: field names resolved, text values converted to
 * the column types, the password hash checked, the roles listed. Nothing here touches the database.
 *
 * @module
 */

import { WRITABLE_USER_FIELDS } from '../core/user.js'
import { importedHash } from '../password/imported-hash.js'
import type { PasswordSchemeName } from '../password/password-manager.js'
import { toField } from '../persistence/kysely/row-mapping.js'
import type { UserSchema } from './user-schema.js'

/** A row ready to be written. */
export interface ImportedUser {
  /** The fields for `addUser` (built-in and custom), with `passwordHash`. */
  readonly user: Record<string, unknown>
  /** From `isActive`; default `true`. */
  readonly active: boolean
  /** From `isVerified`; default `false`. */
  readonly verified: boolean
  /** Role names, as written in the row. */
  readonly roles: readonly string[]
  /** The scheme that verifies the hash. */
  readonly scheme: PasswordSchemeName
}

/** Why a row is refused: the field at fault (when one is) and a sentence. */
export interface RowRefusal {
  readonly field?: string
  readonly reason: string
}

// Spellings other systems export, mapped to ours. Anything else goes through camelCase conversion.
const ALIASES: Readonly<Record<string, string>> = {
  hashedPassword: 'passwordHash',
  password: 'passwordHash',
  emailVerified: 'isVerified',
}
// The built-in fields a file may carry: those a caller may write (the plain `password` arrives here as an
// alias of `passwordHash`), and the user's roles.
const BUILT_IN: ReadonlySet<string> = new Set(
  [...WRITABLE_USER_FIELDS, 'roles'].filter((field) => field !== 'password'),
)
const TRUE = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE = new Set(['false', 'f', 'no', 'n', '0'])

/**
 * The field a column or key of the import file stands for: camelCase or snake_case of a built-in or
 * custom field, or one of the spellings other systems export (`hashed_password`, `password`,
 * `email_verified`). `null` when the users table has no such field.
 *
 * @example
 * ```ts
 * importField('password_hash', schema) // 'passwordHash'
 * importField('display_name', schema) // 'displayName', when the table has display_name
 * importField('last_login', schema) // null
 * ```
 */
export function importField(name: string, schema: UserSchema): string | null {
  const field = toField(name.trim())
  const resolved = ALIASES[field] ?? field
  if (BUILT_IN.has(resolved) || schema.customFields.has(resolved)) return resolved
  return null
}

/**
 * Checks and converts one row. Booleans may be JSON booleans or `true/false`, `t/f`, `yes/no`, `1/0`;
 * numbers may be JSON numbers or text; `roles` is a JSON array of names, or text with the names separated
 * by commas, semicolons or spaces (PostgreSQL's `{a,b}` array text works too). Identifier values are
 * left to the user service, which canonicalises and validates them exactly as for any other user.
 *
 * @example
 * ```ts
 * const result = importRow({ email: 'ada@example.com', password_hash: '$2b$12$...', roles: 'staff' }, schema)
 * if ('reason' in result) console.error(result.reason)
 * ```
 */
export function importRow(fields: Record<string, unknown>, schema: UserSchema): ImportedUser | RowRefusal {
  const user: Record<string, unknown> = {}
  let active = true
  let verified = false
  let roles: string[] = []
  let hash: string | undefined
  for (const [key, value] of Object.entries(fields)) {
    const field = importField(key, schema)
    if (field === null) return { field: key, reason: `unknown field '${key}'` }
    if (Object.hasOwn(user, field) || (field === 'passwordHash' && hash !== undefined)) {
      return { field, reason: `'${field}' is given twice` }
    }
    if (value === null || value === undefined) continue
    switch (field) {
      case 'passwordHash':
        if (typeof value !== 'string') return { field, reason: 'the password hash must be a string' }
        hash = value
        break
      case 'isActive':
      case 'isVerified': {
        const flag = toBoolean(value)
        if (flag === null) return { field, reason: `'${key}' must be true or false` }
        if (field === 'isActive') active = flag
        else verified = flag
        break
      }
      case 'roles': {
        const names = toRoleNames(value)
        if (names === null) return { field, reason: 'roles must be a list of role names' }
        roles = names
        break
      }
      case 'id':
        user.id = typeof value === 'number' ? String(value) : dashedUuid(value)
        break
      case 'email':
      case 'username':
        user[field] = value
        break
      default: {
        const converted = toFieldType(value, schema.customFields.get(field)?.type)
        if (converted === undefined) {
          return { field, reason: `'${key}' must be ${describe(schema.customFields.get(field)?.type)}` }
        }
        user[field] = converted
      }
    }
  }
  if (user.email === undefined) return { field: 'email', reason: 'email is required' }
  if (hash === undefined) return { field: 'passwordHash', reason: 'passwordHash is required' }
  const checked = importedHash(hash)
  if ('refused' in checked) return { field: 'passwordHash', reason: checked.refused }
  user.passwordHash = checked.hash
  return { user, active, verified, roles, scheme: checked.scheme }
}

// Some ORMs store UUIDs as 32 hex digits; the service takes the dashed form.
function dashedUuid(value: unknown): unknown {
  if (typeof value !== 'string' || !/^[0-9a-f]{32}$/i.test(value)) return value
  return value.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')
}

function toBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value
  if (value === 0 || value === 1) return value === 1
  if (typeof value !== 'string') return null
  const lower = value.trim().toLowerCase()
  if (TRUE.has(lower)) return true
  if (FALSE.has(lower)) return false
  return null
}

function toRoleNames(value: unknown): string[] | null {
  if (Array.isArray(value)) {
    return value.every((name) => typeof name === 'string') ? dedupe(value.map((name) => name.trim())) : null
  }
  if (typeof value !== 'string') return null
  const text = value.trim().replace(/^\{(.*)\}$/s, '$1')
  return dedupe(text.split(/[\s,;]+/).map((name) => name.replace(/^"(.*)"$/, '$1')))
}

// Role names compare case-insensitively (they are stored lower-cased): `Staff` and `staff` are one role.
function dedupe(names: string[]): string[] {
  return [...new Set(names.filter((name) => name !== '').map((name) => name.toLowerCase()))]
}

// `undefined` means the value cannot be converted; the service checks the converted value's type again.
function toFieldType(value: unknown, type: string | undefined): unknown {
  if (typeof value !== 'string') return value
  switch (type) {
    case 'boolean':
      return toBoolean(value) ?? undefined
    case 'integer':
      return /^[+-]?\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value))
        ? Number(value)
        : undefined
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : undefined
    default:
      return value
  }
}

function describe(type: string | undefined): string {
  if (type === 'boolean') return 'true or false'
  if (type === 'integer') return 'an integer'
  if (type === 'number') return 'a number'
  return 'text'
}
