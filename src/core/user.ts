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
 * The columns every user has. Applications add their own columns (custom fields) by extending this
 * type and declaring the fields once in the service options.
 *
 * @example
 * ```ts
 * interface AppUser extends BaseUser { displayName: string | null }
 * const repos = createKyselyRepositories<AppUser>(db, { userFields: { displayName: { type: 'string' } } })
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
 * values are checked and stored; `maxLength` is enforced for strings.
 *
 * @example
 * ```ts
 * const userFields = { displayName: Type.Optional(Type.String({ maxLength: 100 })) }
 * ```
 */
export interface UserFieldSchema {
  /** The JSON type: `'string'`, `'number'`, `'integer'` or `'boolean'` (a list with `'null'` too). */
  readonly type?: string | readonly string[] | undefined
  /** For strings: the most code points a value may have. */
  readonly maxLength?: number | undefined
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
