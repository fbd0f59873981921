/**
 * The public shapes of users and roles. They are camelCase domain objects; rows and their snake_case
 * columns never leave the persistence layer.
 *
 * @module
 */

/** A user or role id: a UUIDv7 string by default, or an auto-increment integer when configured. */
export type Id = string | number

/** How ids are generated. Default: `'uuid'` (UUIDv7: unguessable, yet index-friendly because time-ordered). */
export type IdType = 'uuid' | 'integer'

/** A role, as returned by the role methods of the service. */
export interface Role {
  id: Id
  /** Unique, stored trimmed and lower-cased, compared case-insensitively. */
  name: string
  description: string | null
}

/**
 * The columns every user has. Applications add their own columns (custom fields) by declaring them once
 * as schemas in the service options and deriving their user type from them with `UserWith`.
 *
 * @example
 * ```ts
 * const userFields = { displayName: Type.String({ maxLength: 100 }) }
 * type AppUser = UserWith<typeof userFields> // BaseUser & { displayName: string | null }
 * const repos = createKyselyRepositories<AppUser>(db, { userFields })
 * const service = new BaseUserService<AppUser>({ secret, ...repos })
 * ```
 */
export interface BaseUser {
  id: Id
  /** Stored normalised: trimmed, NFKC, lower-cased. At most 320 characters. */
  email: string
  /** Only used when `userAuthIdentifier` is `'username'`; stored normalised like the email. */
  username: string | null
  /** PHC string of the password hash. Never serialised by the HTTP layer. */
  passwordHash: string
  isActive: boolean
  isVerified: boolean
  /**
   * Incremented whenever every credential of the user must end (password change or reset,
   * deactivation, email change, `revokeCredentials`). Sessions and access tokens carry the version they were issued at and
   * are refused once it moves: one mechanism revokes every credential type at once.
   */
  authVersion: number
  createdAt: Date
  updatedAt: Date
  /**
   * The address the user asked to move to (normalised like `email`), or `null`. It becomes `email` only
   * when the link mailed to it is opened (`confirmEmailChange`); until then `email` stays in use.
   */
  pendingEmail: string | null
  /** The roles of the user, loaded with it. */
  roles: Role[]
}

/** The fields a caller may pass to `addUser`; `password` is hashed, `passwordHash` is taken as is (imports). */
export type NewUser<U extends BaseUser = BaseUser> = Partial<
  Omit<U, 'id' | 'roles' | 'createdAt' | 'updatedAt' | 'authVersion' | 'pendingEmail'>
> & {
  email: string
  password?: string
  id?: Id
}

/** A partial update of a user. `password` is policy-checked and hashed. */
export type UserPatch<U extends BaseUser = BaseUser> = Partial<
  Omit<U, 'id' | 'roles' | 'createdAt' | 'updatedAt' | 'authVersion' | 'passwordHash' | 'pendingEmail'>
> & { password?: string }

/**
 * A JSON-Schema description of one custom user field; a TypeBox schema fits as is. The `type` decides how
 * values are checked and stored; the service checks it and the `maxLength` of strings, and the routes
 * validate every keyword (`minimum`, `enum`, `pattern`, `format`, ...).
 *
 * @example
 * ```ts
 * const userFields = {
 *   displayName: Type.String({ maxLength: 100 }),
 *   loginCount: { type: 'integer', minimum: 0 },
 * }
 * ```
 */
export interface UserFieldSchema {
  /** The JSON type: `'string'`, `'number'`, `'integer'` or `'boolean'` (a list with `'null'` too). */
  readonly type?: string | readonly string[] | undefined
  /** For strings: the most code points a value may have. */
  readonly maxLength?: number | undefined
  /** For strings: the fewest code points a value may have. */
  readonly minLength?: number | undefined
  /** For strings: a regular expression (ECMA-262) a value must match. */
  readonly pattern?: string | undefined
  /** For strings: a format of `ajv-formats` (`'uri'`, `'date'`, `'date-time'`, ...). */
  readonly format?: string | undefined
  /** For numbers: the smallest value allowed. */
  readonly minimum?: number | undefined
  /** For numbers: the largest value allowed. */
  readonly maximum?: number | undefined
  /** For numbers: values must be greater than this. */
  readonly exclusiveMinimum?: number | undefined
  /** For numbers: values must be less than this. */
  readonly exclusiveMaximum?: number | undefined
  /** For numbers: values must be a multiple of this. */
  readonly multipleOf?: number | undefined
  /** The only values allowed. */
  readonly enum?: readonly unknown[] | undefined
  /** The one value allowed. */
  readonly const?: unknown
  /** Alternatives, as TypeBox's `Type.Union` writes them. */
  readonly anyOf?: readonly unknown[] | undefined
  /** Exactly one of these schemas. */
  readonly oneOf?: readonly unknown[] | undefined
  /** Every one of these schemas. */
  readonly allOf?: readonly unknown[] | undefined
  /** OpenAPI 3.0's way to allow `null`; every custom field accepts `null` anyway. */
  readonly nullable?: boolean | undefined
  /** Shown in the OpenAPI document. */
  readonly title?: string | undefined
  /** Shown in the OpenAPI document. */
  readonly description?: string | undefined
  /** Shown in the OpenAPI document. */
  readonly examples?: readonly unknown[] | undefined
}

/**
 * The built-in fields a caller may write (`addUser`, `updateUser`, `register` within its limits), with the
 * write-only `password`. Every other writable field is a custom one.
 *
 * @example
 * ```ts
 * WRITABLE_USER_FIELDS.has('isVerified') // true
 * WRITABLE_USER_FIELDS.has('authVersion') // false: only the service moves it
 * ```
 */
export const WRITABLE_USER_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'email',
  'username',
  'password',
  'passwordHash',
  'isActive',
  'isVerified',
])

/**
 * The names of the built-in user fields (and of the write-only `password`): no custom field may take one.
 *
 * @example
 * ```ts
 * BUILT_IN_USER_FIELDS.has('roles') // true
 * ```
 */
export const BUILT_IN_USER_FIELDS: ReadonlySet<string> = new Set([
  ...WRITABLE_USER_FIELDS,
  'roles',
  'authVersion',
  'createdAt',
  'updatedAt',
  'pendingEmail',
])
