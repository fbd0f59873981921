/**
 * The one rule every string obeys before it reaches a database: no NUL character. PostgreSQL cannot store
 * U+0000 in a text column at all (the query fails), and C-based tools truncate at it; no field of a user
 * or a role has a use for it. Checked at the core's boundary (field checks, canonical identifiers, list
 * filters), so a NUL anywhere is a 400 `ERR_VALIDATION`, the same on every database, and never a 500.
 *
 * @module
 */
import { ValidationError } from '../kernel/errors.js'

/**
 * Whether a string can be stored in every supported database.
 *
 * @example
 * ```ts
 * isStorableText('Ada') // true
 * isStorableText('Ada\u0000') // false
 * ```
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000')
}

/**
 * Throws {@link ValidationError} for a string that contains a NUL character; anything else (other types
 * included, which their own checks handle) passes. Arrays and plain objects are checked deeply, for JSON
 * custom fields.
 *
 * @param field - the camelCase field name, for the error.
 * @param value - any input value.
 * @returns `value`, unchanged.
 *
 * @example
 * ```ts
 * const description = checkStorableText('description', data.description)
 * ```
 */
export function checkStorableText<T>(field: string, value: T): T {
  if (!containsNul(value, 0)) return value
  throw new ValidationError(field, `${field} must not contain NUL characters`)
}

function containsNul(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return !isStorableText(value)
  // The depth bound keeps a deeply nested value from costing a stack; the schemas bound sizes long before.
  if (depth > 32 || value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some((item) => containsNul(item, depth + 1))
  return Object.entries(value).some(([key, item]) => !isStorableText(key) || containsNul(item, depth + 1))
}
