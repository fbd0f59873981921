/**
 * Driver errors for broken constraints, turned into the core's `ConflictError`. Uniqueness is decided by
 * the database's unique indexes (race-free), so this is where "already exists" is recognised for each
 * driver: PostgreSQL's SQLSTATE 23505, MySQL's errno 1062, SQLite's SQLITE_CONSTRAINT_UNIQUE.
 *
 * @module
 */
import { ConflictError } from '../../kernel/errors.js'
import { toField } from './row-mapping.js'

/** Index names of the built-in unique constraints, mapped to the field they protect. */
const KNOWN_CONSTRAINTS: Record<string, string> = {
  fu_users_email_uq: 'email',
  fu_users_username_uq: 'username',
  fu_roles_name_uq: 'name',
  user_roles_pkey: 'role',
  fu_user_roles_pk: 'role',
}

/**
 * The same constraints under configured table names: `fu_<table>_<suffix>` (see `indexName`), so the
 * suffix tells the field whatever the table is called.
 */
const RENAMED_CONSTRAINT = /^fu_[a-z0-9_]+_(email|username|name)_uq$/
const RENAMED_LINK_KEY = /^fu_[a-z0-9_]+_pk$/

function knownConstraint(name: string): string | undefined {
  const known = KNOWN_CONSTRAINTS[name]
  if (known !== undefined) return known
  if (RENAMED_LINK_KEY.test(name)) return 'role'
  return RENAMED_CONSTRAINT.exec(name)?.[1]
}

interface DriverError {
  code?: unknown
  errno?: unknown
  constraint?: unknown
  detail?: unknown
  message?: unknown
}

/**
 * Returns a `ConflictError` when `err` is a unique (or primary key) violation, naming the camelCase
 * field when the driver says which; `null` for any other error.
 */
export function uniqueViolation(err: unknown): ConflictError | null {
  if (!err || typeof err !== 'object') return null
  const e = err as DriverError
  const message = typeof e.message === 'string' ? e.message : ''
  let field: string | undefined
  if (e.code === '23505') {
    const constraint = typeof e.constraint === 'string' ? e.constraint : ''
    const detail = typeof e.detail === 'string' ? /Key \(([a-z0-9_]+)\)/i.exec(e.detail)?.[1] : undefined
    field = knownConstraint(constraint) ?? (detail ? toField(detail) : undefined)
  } else if (e.errno === 1062 || e.code === 'ER_DUP_ENTRY') {
    const key = /for key '(?:[^.']*\.)?([^']+)'/.exec(message)?.[1] ?? ''
    field = knownConstraint(key) ?? (key === 'PRIMARY' ? 'id' : key ? toField(key) : undefined)
  } else if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const columns = /constraint failed: (.+)$/
      .exec(message)?.[1]
      ?.split(',')
      .map((c) => c.trim().split('.')[1])
    field =
      columns?.length === 1 && columns[0]
        ? toField(columns[0])
        : columns?.includes('role_id')
          ? 'role'
          : undefined
  } else {
    return null
  }
  return new ConflictError(field ? `${field} already exists` : 'unique constraint violated', {
    field,
    cause: err,
  })
}
