/**
 * Rows (snake_case, driver-specific value types) to domain objects (camelCase, `Date`, `boolean`) and
 * back. The only place that knows how each driver returns booleans, big integers and timestamps.
 *
 * @module
 */
import { type BaseUser, BUILT_IN_USER_FIELDS, type Role, type UserFieldSchema } from '../../core/user.js'
import type { DatabaseDialect } from './connect.js'

/** `displayName` to `display_name`. */
export function toColumn(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** `display_name` to `displayName`. */
export function toField(column: string): string {
  return column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

/**
 * The columns fastify-users' migrations create; everything else in `users` belongs to the application.
 * Derived from the built-in fields: `password` is write-only (stored as `password_hash`) and `roles` lives
 * in the link table.
 *
 * @example
 * ```ts
 * BUILT_IN_USER_COLUMNS.has('auth_version') // true
 * ```
 */
export const BUILT_IN_USER_COLUMNS: ReadonlySet<string> = new Set(
  [...BUILT_IN_USER_FIELDS].filter((field) => field !== 'password' && field !== 'roles').map(toColumn),
)

/** Numbers from `bigint` columns: `pg` returns them as strings. */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

/** Booleans as each driver stores them: better-sqlite3 binds no booleans, so SQLite gets 1 and 0. */
export function toDbBoolean(dialect: DatabaseDialect, value: boolean): boolean | number {
  return dialect === 'sqlite' ? (value ? 1 : 0) : value
}

function isBooleanField(schema: UserFieldSchema | undefined): boolean {
  if (!schema) return false
  return schema.type === 'boolean' || (Array.isArray(schema.type) && schema.type.includes('boolean'))
}

/** A user row (with its roles, loaded separately) to a domain user. */
export function rowToUser<U extends BaseUser>(
  row: Record<string, unknown>,
  roles: Role[],
  idType: 'uuid' | 'integer',
  userFields: Readonly<Record<string, UserFieldSchema>>,
): U {
  const user: Record<string, unknown> = {
    id: idType === 'integer' ? toNumber(row.id) : row.id,
    email: row.email,
    username: row.username ?? null,
    passwordHash: row.password_hash,
    isActive: Boolean(row.is_active),
    isVerified: Boolean(row.is_verified),
    authVersion: toNumber(row.auth_version),
    createdAt: new Date(toNumber(row.created_at)),
    updatedAt: new Date(toNumber(row.updated_at)),
    pendingEmail: row.pending_email ?? null,
    roles,
  }
  for (const [field, schema] of Object.entries(userFields)) {
    const column = toColumn(field)
    if (BUILT_IN_USER_COLUMNS.has(column)) continue
    const value = row[column]
    user[field] =
      value === undefined || value === null ? null : isBooleanField(schema) ? Boolean(value) : value
  }
  return user as U
}

/** A role row to a domain role. */
export function rowToRole<R extends Role>(row: Record<string, unknown>, idType: 'uuid' | 'integer'): R {
  return {
    id: idType === 'integer' ? toNumber(row.id) : row.id,
    name: row.name,
    description: row.description ?? null,
  } as R
}

/** camelCase user fields to columns, converting booleans for the dialect. Unknown keys are dropped. */
export function userValuesToRow(
  values: Record<string, unknown>,
  dialect: DatabaseDialect,
  userFields: Readonly<Record<string, UserFieldSchema>>,
): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(values)) {
    if (value === undefined) continue
    switch (field) {
      case 'id':
      case 'email':
      case 'username':
        row[field] = value
        break
      case 'passwordHash':
        row.password_hash = value
        break
      case 'pendingEmail':
        row.pending_email = value
        break
      case 'isActive':
      case 'isVerified':
        row[toColumn(field)] = toDbBoolean(dialect, Boolean(value))
        break
      default:
        if (Object.hasOwn(userFields, field)) {
          row[toColumn(field)] =
            typeof value === 'boolean' && isBooleanField(userFields[field])
              ? toDbBoolean(dialect, value)
              : value
        }
    }
  }
  return row
}
