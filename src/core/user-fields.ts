/**
 * The checks of the fields written to a user, whatever the entry point: which names exist, which may be
 * set when, and what each value must look like. Unknown fields throw, so nothing unlisted is ever stored.
 *
 * @module
 */
import { ValidationError } from '../kernel/errors.js'
import { canonicalEmail, canonicalIdentifier, canonicalUsername } from './identifiers.js'
import { checkStorableText } from './storable-text.js'
import {
  BUILT_IN_USER_FIELDS,
  type Id,
  type IdType,
  type UserFieldSchema,
  WRITABLE_USER_FIELDS,
} from './user.js'

/**
 * Where a write comes from: `addUser` (`create`), `register`, or `updateUser` (`update`).
 *
 * @example
 * ```ts
 * checkUserFields(data, 'register', context)
 * ```
 */
export type FieldCheckMode = 'create' | 'register' | 'update'

/**
 * What the field checks need to know about the service.
 *
 * @example
 * ```ts
 * const context: FieldCheckContext = { userFields: {}, userAuthIdentifier: 'email', idType: 'uuid' }
 * ```
 */
export interface FieldCheckContext {
  /** The custom fields of the user repository. */
  readonly userFields: Readonly<Record<string, UserFieldSchema>>
  /** The column users log in with. */
  readonly userAuthIdentifier: string
  /** The id type of the user repository. */
  readonly idType: IdType
}

/**
 * Refuses custom field names that would overwrite a built-in field: a built-in name (`roles`, `id`,
 * `passwordHash`...) or one that is the same name once case and underscores are ignored
 * (`password_hash`, `IsActive`), since repositories map names between camelCase and snake_case. Throws
 * `TypeError` naming `option`.
 *
 * @example
 * ```ts
 * checkCustomFieldNames({ displayName: { type: 'string' } }, 'userFields') // fine
 * checkCustomFieldNames({ roles: { type: 'string' } }, 'userFields') // TypeError
 * ```
 */
export function checkCustomFieldNames(
  fields: Readonly<Record<string, UserFieldSchema>>,
  option: string,
): void {
  const builtIn = new Set([...BUILT_IN_USER_FIELDS].map(looseName))
  for (const name of Object.keys(fields)) {
    if (builtIn.has(looseName(name))) {
      throw new TypeError(
        `fastify-users: \`${option}.${name}\` is a built-in field (or maps to one); choose another name`,
      )
    }
  }
}

function looseName(name: string): string {
  return name.replaceAll('_', '').toLowerCase()
}

/**
 * Parses an id of the repository's id type, or returns `null` when it cannot be one.
 *
 * @example
 * ```ts
 * parseId('integer', '42') // 42
 * parseId('uuid', 'not-a-uuid') // null
 * ```
 */
export function parseId(idType: IdType, id: unknown): Id | null {
  if (idType === 'integer') {
    const n =
      typeof id === 'number'
        ? id
        : typeof id === 'string' && /^[0-9]{1,15}$/.test(id)
          ? Number(id)
          : Number.NaN
    return Number.isSafeInteger(n) && n > 0 ? n : null
  }
  return typeof id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
    ? id.toLowerCase()
    : null
}

/**
 * Validates and canonicalises the writable fields of `data` (the password is left to the caller); unknown
 * fields throw {@link ValidationError}. Outside `update`, the email and the login identifier are required.
 *
 * @example
 * ```ts
 * checkUserFields({ email: ' Ada@Example.com ' }, 'create', context) // { email: 'ada@example.com' }
 * ```
 */
export function checkUserFields(
  data: Record<string, unknown>,
  mode: FieldCheckMode,
  context: FieldCheckContext,
): Record<string, unknown> {
  const { userFields: custom, userAuthIdentifier } = context
  const record: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue
    if (key === 'password' || key === 'passwordHash') continue
    checkStorableText(key, value)
    if (!WRITABLE_USER_FIELDS.has(key) && !Object.hasOwn(custom, key)) {
      throw new ValidationError(key, `unknown field '${key}'`)
    }
    if (mode === 'register' && (key === 'isActive' || key === 'isVerified' || key === 'id')) {
      throw new ValidationError(key, `'${key}' cannot be set at registration`)
    }
    if (mode === 'update' && key === 'id') throw new ValidationError(key, "'id' cannot be changed")
    switch (key) {
      case 'email':
        record.email = canonicalEmail(value)
        break
      case 'username':
        record.username =
          value === null && userAuthIdentifier !== 'username' ? null : canonicalUsername(value)
        break
      case 'isActive':
      case 'isVerified':
        if (typeof value !== 'boolean') throw new ValidationError(key, `${key} must be a boolean`)
        record[key] = value
        break
      case 'id': {
        const id = parseId(context.idType, value)
        if (id === null)
          throw new ValidationError(
            'id',
            `id must be a ${context.idType === 'uuid' ? 'UUID' : 'positive integer'}`,
          )
        record.id = id
        break
      }
      default:
        record[key] = checkCustomValue(key, value, custom[key]!)
        if (key === userAuthIdentifier) record[key] = canonicalIdentifier(key, value)
    }
  }
  if (mode !== 'update') {
    if (record.email === undefined) throw new ValidationError('email', 'email is required')
    if (record[userAuthIdentifier] === undefined) {
      throw new ValidationError(userAuthIdentifier, `${userAuthIdentifier} is required`)
    }
  }
  return record
}

function checkCustomValue(key: string, value: unknown, schema: UserFieldSchema): unknown {
  if (value === null) return null
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
  const ok =
    type === undefined ||
    (type === 'string' && typeof value === 'string') ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'integer' && typeof value === 'number' && Number.isSafeInteger(value))
  if (!ok) throw new ValidationError(key, `${key} must be of type ${String(type)}`)
  if (
    typeof value === 'string' &&
    typeof schema.maxLength === 'number' &&
    [...value].length > schema.maxLength
  ) {
    throw new ValidationError(key, `${key} must be at most ${schema.maxLength} characters`)
  }
  return value
}
