/**
 * Request and response schemas, defined once and used three times: to validate requests (unknown fields
 * refused), to serialise responses (a column missing from the read schema can never reach a client, the
 * password hash least of all), and to write the OpenAPI document.
 *
 * @module
 */
import { type TSchema, Type } from 'typebox'
import { EMAIL_PATTERN, MAX_EMAIL_LENGTH } from '../core/identifiers.js'
import type { IdType, UserFieldSchema } from '../core/user.js'
import { MAX_CURSOR_LENGTH } from '../persistence/kysely/cursor.js'

/** What the schemas depend on. */
export interface SchemaOptions {
  idType: IdType
  userAuthIdentifier: string
  userFields: Readonly<Record<string, UserFieldSchema>>
  adminOnlyFields: ReadonlySet<string>
  maxPageSize: number
}

/** Every schema of the plugin's routes. */
export type Schemas = ReturnType<typeof buildSchemas>

const asSchema = (schema: UserFieldSchema): TSchema => schema as unknown as TSchema

function nullable(schema: UserFieldSchema): TSchema {
  if (typeof schema.type === 'string') return asSchema({ ...schema, type: [schema.type, 'null'] })
  return Type.Union([asSchema(schema), Type.Null()])
}

/**
 * Every request string carries this pattern: no NUL character. No database stores U+0000 in text
 * (PostgreSQL fails the query), so it is refused here with a 400, as the core refuses it too.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$'

/** A request string: bounded, and without NUL (see {@link NO_NUL_PATTERN}). */
const Text = (options: Parameters<typeof Type.String>[0] = {}) =>
  Type.String({ ...options, pattern: NO_NUL_PATTERN })

/** An application's custom field as a request accepts it: its own schema, and no NUL in any string. */
function inputField(schema: UserFieldSchema): UserFieldSchema {
  const types =
    schema.type === undefined ? ['string'] : Array.isArray(schema.type) ? schema.type : [schema.type]
  if (!types.includes('string')) return schema
  // allOf, so that a pattern of the application's own schema still applies too.
  const allOf = (schema as { allOf?: unknown[] }).allOf ?? []
  return { ...schema, allOf: [...allOf, { pattern: NO_NUL_PATTERN }] } as UserFieldSchema
}

// Strings are bounded everywhere: an oversized value is refused before it reaches a hash or a query.
const Email = Text({
  minLength: 3,
  maxLength: MAX_EMAIL_LENGTH,
  description: 'An email address; compared case-insensitively.',
})
const Password = Text({
  minLength: 1,
  maxLength: 4096,
  description: '8 to 128 characters by default; no composition rules.',
})
const Token = Text({ minLength: 1, maxLength: 4096 })
const Username = Text({ minLength: 3, maxLength: 64 })

/** Builds the schemas for a configuration. */
export function buildSchemas(options: SchemaOptions) {
  const Id =
    options.idType === 'uuid'
      ? Type.String({ format: 'uuid', description: 'A UUIDv7.' })
      : Type.Integer({ minimum: 1, description: 'An auto-increment id.' })
  const usesUsername = options.userAuthIdentifier === 'username'
  const custom = Object.entries(options.userFields)
  const selfFields = custom.filter(([name]) => !options.adminOnlyFields.has(name))

  const Role = Type.Object(
    {
      id: Id,
      name: Type.String(),
      description: Type.Union([Type.String(), Type.Null()]),
    },
    { $id: 'FastifyUsersRole', additionalProperties: false },
  )

  const userProperties: Record<string, TSchema> = {
    id: Id,
    // The server's own check, not `format: 'email'`: that format (ASCII only) is stricter than the server,
    // and a client validating answers would refuse an international address the server accepted.
    email: Type.String({
      pattern: EMAIL_PATTERN,
      maxLength: MAX_EMAIL_LENGTH,
      description: 'The email address, canonical: NFKC-normalised, trimmed and lower-cased.',
    }),
    ...(usesUsername ? { username: Type.Union([Type.String(), Type.Null()]) } : {}),
    isActive: Type.Boolean(),
    isVerified: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    pendingEmail: Type.Optional(
      Type.Union([Type.String(), Type.Null()], {
        description:
          'The address the user asked to move to, until they confirm it from that mailbox; `email` stays in use until then.',
      }),
    ),
    roles: Type.Array(Type.Ref('FastifyUsersRole')),
    ...Object.fromEntries(custom.map(([name, schema]) => [name, nullable(schema)])),
  }
  const User = Type.Object(userProperties, { $id: 'FastifyUsersUser', additionalProperties: false })
  const UserRef = Type.Ref('FastifyUsersUser')

  const optionalFields = (fields: [string, UserFieldSchema][]) =>
    Object.fromEntries(fields.map(([name, schema]) => [name, Type.Optional(nullable(inputField(schema)))]))

  // Typed as records, not as conditional spreads: a field that may be absent would otherwise reach the
  // type provider as `TSchema | undefined` and type the whole request body as unknown.
  const usernameInput: Record<string, TSchema> = usesUsername ? { username: Type.Optional(Username) } : {}
  const loginIdentifier: Record<string, TSchema> = {
    [options.userAuthIdentifier]:
      options.userAuthIdentifier === 'email' ? Email : Text({ minLength: 1, maxLength: 320 }),
  }

  const identifierField: Record<string, TSchema> =
    options.userAuthIdentifier === 'email'
      ? {}
      : {
          [options.userAuthIdentifier]: usesUsername ? Username : Text({ minLength: 1, maxLength: 320 }),
        }

  return {
    Role,
    User,
    UserRef,
    RoleRef: Type.Ref('FastifyUsersRole'),
    Id,
    IdParams: Type.Object({ id: Id }, { additionalProperties: false }),
    Accepted: Type.Object(
      { message: Type.String() },
      {
        additionalProperties: false,
        description: 'The same answer whatever the outcome, so it reveals nothing.',
      },
    ),
    RegisterBody: Type.Object(
      { email: Email, password: Password, ...identifierField, ...optionalFields(selfFields) },
      { additionalProperties: false },
    ),
    LoginBody: Type.Object({ ...loginIdentifier, password: Password }, { additionalProperties: false }),
    LoginJwtResponse: Type.Object(
      {
        ...userProperties,
        accessToken: Type.String(),
        tokenType: Type.Literal('Bearer'),
        expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
        refreshToken: Type.Optional(
          Type.String({ description: 'The refresh token, for `POST /refresh`; single use (rotated).' }),
        ),
        refreshExpiresIn: Type.Optional(
          Type.Integer({ description: 'Seconds until the refresh token expires unused.' }),
        ),
      },
      { additionalProperties: false },
    ),
    TokenBody: Type.Object({ token: Type.Optional(Token) }, { additionalProperties: false }),
    TokenQuery: Type.Object({ token: Type.Optional(Token) }, { additionalProperties: false }),
    VerifyBody: Type.Object(
      {
        token: Type.Optional(Token),
        password: Type.Optional({
          ...Password,
          description: "The account's password: a link alone never verifies an account.",
        }),
      },
      {
        additionalProperties: false,
        description:
          'Optional: the token can come as `?token=` instead, and then the body needs only `password`.',
        // Without a token, so that an interactive client's pre-filled body does not override `?token=`.
        examples: [{ password: 'the account password' }],
      },
    ),
    EmailChangeConfirmBody: Type.Object(
      {
        token: Token,
        password: { ...Password, description: "The account's password." },
      },
      { additionalProperties: false },
    ),
    EmailChangeCancelBody: Type.Object({ token: Token }, { additionalProperties: false }),
    EmailBody: Type.Object({ email: Email }, { additionalProperties: false }),
    ResetBody: Type.Object({ token: Token, password: Password }, { additionalProperties: false }),
    ChangePasswordBody: Type.Object(
      {
        currentPassword: Type.Optional({
          ...Password,
          description:
            'The current password; without it, a recent step-up proof of this credential is needed.',
        }),
        newPassword: Password,
      },
      { additionalProperties: false },
    ),
    MePatch: Type.Object(
      {
        email: Type.Optional({
          ...Email,
          description: 'A new address: held as `pendingEmail` until confirmed from that mailbox.',
        }),
        currentPassword: Type.Optional({
          ...Password,
          description:
            'The current password, a fresh proof for a new `email` or username; without it, a recent step-up proof of this credential is needed.',
        }),
        ...usernameInput,
        ...optionalFields(selfFields),
      },
      { additionalProperties: false },
    ),
    AdminUserPatch: Type.Object(
      {
        email: Type.Optional(Email),
        ...usernameInput,
        isActive: Type.Optional(Type.Boolean()),
        isVerified: Type.Optional(Type.Boolean()),
        password: Type.Optional(Password),
        ...optionalFields(custom),
      },
      { additionalProperties: false },
    ),
    ListQuery: Type.Object(
      {
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: options.maxPageSize, default: 20 })),
        offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
        cursor: Type.Optional(Text({ maxLength: MAX_CURSOR_LENGTH })),
        email: Type.Optional(
          Text({ maxLength: MAX_EMAIL_LENGTH, description: 'Substring of the email, case-insensitive.' }),
        ),
        isActive: Type.Optional(Type.Boolean()),
        isVerified: Type.Optional(Type.Boolean()),
        role: Type.Optional(Text({ maxLength: 64 })),
        orderBy: Type.Optional(
          Type.Union([Type.Literal('createdAt'), Type.Literal('updatedAt'), Type.Literal('email')]),
        ),
        order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
      },
      { additionalProperties: false },
    ),
    UserPage: Type.Object(
      {
        items: Type.Array(UserRef),
        total: Type.Integer(),
        nextCursor: Type.Union([Type.String(), Type.Null()], {
          description: 'Pass as `cursor` for the next page.',
        }),
      },
      { additionalProperties: false },
    ),
    RoleList: Type.Array(Type.Ref('FastifyUsersRole')),
    RoleCreate: Type.Object(
      {
        name: Text({ minLength: 1, maxLength: 64 }),
        description: Type.Optional(Type.Union([Text({ maxLength: 255 }), Type.Null()])),
      },
      { additionalProperties: false },
    ),
    RolePatch: Type.Object(
      {
        name: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
        description: Type.Optional(Type.Union([Text({ maxLength: 255 }), Type.Null()])),
      },
      { additionalProperties: false },
    ),
    RoleAssignment: Type.Object({ userId: Id, roleId: Id }, { additionalProperties: false }),
    Problem: Type.Object(
      {
        type: Type.String(),
        title: Type.String(),
        status: Type.Integer(),
        detail: Type.String(),
        code: Type.String(),
        errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
      },
      { $id: 'FastifyUsersProblem' },
    ),
  }
}
