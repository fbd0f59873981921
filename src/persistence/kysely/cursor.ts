/**
 * Keyset cursors of the user list: the sort value and the id of the last row of a page, as base64url JSON.
 * A cursor comes back from the client, so decoding checks it completely against the sort column and the id
 * type before any part reaches a query: a wrong type, a non-finite or unsafe number, an oversized or NUL
 * string would otherwise reach the database and fail there (a 500 on PostgreSQL and MariaDB).
 *
 * @module
 */
import { ValidationError } from '../../core/errors.js'
import { MAX_EMAIL_LENGTH } from '../../core/identifiers.js'
import type { UserOrderField } from '../../core/repositories.js'
import { isStorableText } from '../../core/storable-text.js'
import type { IdType } from '../../core/user.js'
import { toNumber } from './row-mapping.js'

/** Longest cursor accepted: an email of the maximum length and a UUID, JSON-quoted and base64url-encoded. */
export const MAX_CURSOR_LENGTH = 1024

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** A decoded cursor: the sort column's value and the id, each of the type its column holds. */
export type UserCursor = [value: string | number, id: string | number]

/** The id as the cursor carries it: a number for integer ids (`pg` returns `bigint` as a string). */
function idValue(id: unknown, idType: IdType): string | number {
  return idType === 'integer' ? toNumber(id) : String(id)
}

/**
 * Encodes the cursor after a row.
 *
 * @example
 * ```ts
 * encodeUserCursor('createdAt', 'uuid', row.created_at, row.id) // 'WzE3...'
 * ```
 */
export function encodeUserCursor(field: UserOrderField, idType: IdType, value: unknown, id: unknown): string {
  const sortValue =
    field === 'email' ? String(value) : field === 'id' ? idValue(value, idType) : toNumber(value)
  return Buffer.from(JSON.stringify([sortValue, idValue(id, idType)])).toString('base64url')
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
 * Decodes and checks a cursor for a list ordered by `field`; throws `ValidationError` (400) for anything
 * this server could not have issued for that order.
 *
 * @example
 * ```ts
 * const [value, id] = decodeUserCursor(query.cursor, 'createdAt', 'uuid')
 * ```
 */
export function decodeUserCursor(cursor: string, field: UserOrderField, idType: IdType): UserCursor {
  if (typeof cursor === 'string' && cursor.length <= MAX_CURSOR_LENGTH && BASE64URL.test(cursor)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    } catch {
      parsed = undefined
    }
    if (Array.isArray(parsed) && parsed.length === 2) {
      const value = sortPart(parsed[0], field, idType)
      const id = idPart(parsed[1], idType)
      if (value !== null && id !== null) return [value, id]
    }
  }
  throw new ValidationError('cursor', 'cursor is not one this server issued')
}
