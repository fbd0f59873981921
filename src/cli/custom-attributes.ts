/**
 * The typed `key=value` flags of `create-user` (`--str-attrs`, `--int-attrs`, `--float-attrs`,
 * `--bool-attrs`), as litestar-users has them: parsed when the command line is read, then checked against
 * the custom columns the database actually has.
 *
 * @module
 */
import { InvalidArgumentError } from 'commander'
import { BUILT_IN_USER_COLUMNS } from '../persistence/kysely/database.js'
import { toColumn, toField } from '../persistence/kysely/row-mapping.js'
import { CliError } from './output.js'
import type { UserSchema } from './user-schema.js'

/** The flag an attribute came from. */
export type AttributeKind = 'str' | 'int' | 'float' | 'bool'

/** One `key=value` of a typed flag, its value already converted. */
export interface CustomAttribute {
  kind: AttributeKind
  /** The key as typed: camelCase (`displayName`) or snake_case (`display_name`). */
  key: string
  value: string | number | boolean
}

const TRUE = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE = new Set(['false', 'f', 'no', 'n', '0'])

/**
 * A commander argument parser for one typed flag; repeated flags accumulate. A malformed value is a usage
 * error (exit code 2), reported by commander with the flag's name.
 *
 * Unlike litestar-users, a boolean that is neither true-ish nor false-ish is refused rather than read as
 * `false`, so `--bool-attrs isAdmin=ture` cannot quietly store the opposite of what was meant.
 *
 * @example
 * ```ts
 * command.option('-i, --int-attrs <key=value...>', 'integer fields', attributeParser('int'))
 * ```
 */
export function attributeParser(
  kind: AttributeKind,
): (raw: string, previous: CustomAttribute[] | undefined) => CustomAttribute[] {
  return (raw, previous = []) => [...previous, parseAttribute(kind, raw)]
}

function parseAttribute(kind: AttributeKind, raw: string): CustomAttribute {
  const at = raw.indexOf('=')
  const key = raw.slice(0, at).trim()
  if (at <= 0 || key.length === 0) throw new InvalidArgumentError(`expected key=value, got '${raw}'`)
  const text = raw.slice(at + 1)
  switch (kind) {
    case 'str':
      return { kind, key, value: text }
    case 'int': {
      const value = Number(text)
      if (!/^[+-]?\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
        throw new InvalidArgumentError(`'${key}' must be an integer, got '${text}'`)
      }
      return { kind, key, value }
    }
    case 'float': {
      const value = Number(text)
      if (text.trim() === '' || !Number.isFinite(value)) {
        throw new InvalidArgumentError(`'${key}' must be a number, got '${text}'`)
      }
      return { kind, key, value }
    }
    case 'bool': {
      const lower = text.trim().toLowerCase()
      if (TRUE.has(lower)) return { kind, key, value: true }
      if (FALSE.has(lower)) return { kind, key, value: false }
      throw new InvalidArgumentError(`'${key}' must be true or false (or yes/no, 1/0), got '${text}'`)
    }
  }
}

/**
 * Maps the parsed flags onto the custom columns of `users`, by camelCase field name. The value's type is
 * then checked by the user service against the column's type, as for any other caller.
 *
 * @throws CliError naming the known custom fields when a key is not one of them (or is a built-in column,
 *   which has its own option), or when a key is given twice.
 *
 * @example
 * ```ts
 * resolveAttributes([{ kind: 'str', key: 'display_name', value: 'Ada' }], schema) // { displayName: 'Ada' }
 * ```
 */
export function resolveAttributes(
  attributes: readonly CustomAttribute[],
  schema: UserSchema,
): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = {}
  for (const { key, value } of attributes) {
    const field = toField(key)
    if (BUILT_IN_USER_COLUMNS.has(toColumn(field))) {
      throw new CliError(`'${key}' is a built-in field; use its own option (see create-user --help)`)
    }
    if (!schema.customFields.has(field)) {
      const known = [...schema.customFields.values()].map((f) => `${f.field} (${f.type ?? f.dataType})`)
      throw new CliError(
        `the users table has no column for '${key}'; ` +
          (known.length > 0 ? `its custom fields are: ${known.join(', ')}` : 'it has no custom fields'),
      )
    }
    if (Object.hasOwn(values, field)) throw new CliError(`'${field}' is given twice`)
    values[field] = value
  }
  const missing = [...schema.customFields.values()].filter(
    (f) => f.required && !Object.hasOwn(values, f.field),
  )
  if (missing.length > 0) {
    throw new CliError(
      `the users table requires ${missing.map((f) => `${f.field} (${f.type ?? f.dataType})`).join(', ')}; ` +
        `pass ${missing.map((f) => `--${flagFor(f.type)}-attrs ${f.field}=...`).join(' ')}`,
    )
  }
  return values
}

function flagFor(type: string | undefined): AttributeKind {
  if (type === 'integer') return 'int'
  if (type === 'number') return 'float'
  if (type === 'boolean') return 'bool'
  return 'str'
}
