/**
 * Keyset cursors of the user list: the sort value and the id of the last row of a page, with the sort field,
 * the direction and a digest of the filters the page was read under, as base64url JSON. A cursor only means
 * something under the sort and filters that made it: read under another order it would silently skip or
 * repeat users (an empty page 2, or the wrong user with `desc`), so a cursor used with another sort, order
 * or filter is refused (400) rather than followed. A cursor comes back from the client, so decoding checks it completely against the sort column and the id
 * type before any part reaches a query: a wrong type, a non-finite or unsafe number, an oversized or NUL
 * string would otherwise reach the database and fail there (a 500 on PostgreSQL and MariaDB).
 *
 * @module
 */
import { MAX_EMAIL_LENGTH } from '../../core/identifiers.js'
import type { UserOrderField } from '../../core/repositories.js'
import { isStorableText } from '../../core/storable-text.js'
import type { IdType } from '../../core/user.js'
import { sha256 } from '../../kernel/digest.js'
import { ValidationError } from '../../kernel/errors.js'
import { toNumber } from './row-mapping.js'

/**
 * Longest cursor accepted: an email of the maximum length (up to 4 UTF-8 bytes a character), a UUID, the sort
 * and the filter digest, JSON-quoted and base64url-encoded.
 */
export const MAX_CURSOR_LENGTH = 2048

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** A decoded cursor: the sort column's value and the id, each of the type its column holds. */
export type UserCursor = [value: string | number, id: string | number]

/** What a cursor is bound to: the order of the list and its filters (as the repository receives them). */
export interface UserCursorScope {
  field: UserOrderField
  direction: 'asc' | 'desc'
  filters?: Readonly<Record<string, unknown>>
}

/**
 * A short digest of the filters: absent (`undefined`) filters are dropped and keys sorted, so the same query
 * written in another key order binds the same cursor. A digest, not the filters themselves, keeps the cursor
 * short whatever the filters hold.
 */
function filterDigest(filters: Readonly<Record<string, unknown>> | undefined): string {
  const entries = Object.entries(filters ?? {})
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return sha256(JSON.stringify(entries), 'base64url').slice(0, 22)
}

/** The id as the cursor carries it: a number for integer ids (`pg` returns `bigint` as a string). */
function idValue(id: unknown, idType: IdType): string | number {
  return idType === 'integer' ? toNumber(id) : String(id)
}

/**
 * Encodes the cursor after a row, bound to the order and filters of the list it ends a page of.
 *
 * @example
 * ```ts
 * encodeUserCursor({ field: 'createdAt', direction: 'asc', filters }, 'uuid', row.created_at, row.id) // 'WzE3...'
 * ```
 */
export function encodeUserCursor(
  scope: UserCursorScope,
  idType: IdType,
  value: unknown,
  id: unknown,
): string {
  const { field, direction } = scope
  const sortValue =
    field === 'email' ? String(value) : field === 'id' ? idValue(value, idType) : toNumber(value)
  const parts = [sortValue, idValue(id, idType), field, direction, filterDigest(scope.filters)]
  return Buffer.from(JSON.stringify(parts)).toString('base64url')
}

/** A non-negative safe integer, or a string of digits that is one (cursors issued on PostgreSQL). */
function integerPart(value: unknown, minimum: number): number | null {
  const n = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= minimum ? n : null
}

function idPart(value: unknown, idType: IdType): string | number | null {
  if (idType === 'integer') return integerPart(value, 1)
  return typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : null
}

function sortPart(value: unknown, field: UserOrderField, idType: IdType): string | number | null {
  if (field === 'id') return idPart(value, idType)
  if (field === 'email') {
    return typeof value === 'string' && value.length <= MAX_EMAIL_LENGTH && isStorableText(value)
      ? value
      : null
  }
  // createdAt, updatedAt: epoch milliseconds.
  return integerPart(value, 0)
}

/**
 * Decodes and checks a cursor for a list with the given order and filters; throws `ValidationError` (400,
 * field `cursor`) for anything this server could not have issued, and for a cursor issued under another
 * sort field, direction or filter.
 *
 * @example
 * ```ts
 * const [value, id] = decodeUserCursor(query.cursor, { field: 'createdAt', direction: 'asc', filters }, 'uuid')
 * ```
 */
export function decodeUserCursor(cursor: string, scope: UserCursorScope, idType: IdType): UserCursor {
  const { field } = scope
  if (typeof cursor === 'string' && cursor.length <= MAX_CURSOR_LENGTH && BASE64URL.test(cursor)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    } catch {
      parsed = undefined
    }
    if (Array.isArray(parsed) && parsed.length === 5) {
      if (parsed[2] !== field || parsed[3] !== scope.direction || parsed[4] !== filterDigest(scope.filters)) {
        throw new ValidationError(
          'cursor',
          'cursor belongs to a list with another sort, order or filter: repeat them as they were',
        )
      }
      const value = sortPart(parsed[0], field, idType)
      const id = idPart(parsed[1], idType)
      if (value !== null && id !== null) return [value, id]
    }
  }
  throw new ValidationError('cursor', 'cursor is not one this server issued')
}
