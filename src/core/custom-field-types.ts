/**
 * The TypeScript side of custom user fields: the type of a user is derived from the same schemas that
 * the plugin validates with, so a field is declared once.
 *
 * @module
 */
import type { Static, TSchema } from 'typebox'
import type { BaseUser } from './user.js'

/**
 * The value type of one custom field: what its schema describes, or `null` (a user who never set it, and
 * the column is nullable). A plain JSON Schema works too when written `as const`; one whose `type` is a
 * plain `string` (not a literal) gives `unknown`.
 *
 * @example
 * ```ts
 * type DisplayName = UserFieldValue<typeof userFields.displayName> // string | null
 * ```
 */
export type UserFieldValue<S> = (S extends TSchema ? Static<S> : unknown) | null

/**
 * A user with the custom fields of `Fields` (a record of TypeBox schemas, or of JSON Schemas written
 * `as const`): the user type of the application, derived from the declaration the plugin receives.
 *
 * @example
 * ```ts
 * import { Type } from 'typebox'
 * import type { UserWith } from 'fastify-users'
 *
 * const userFields = {
 *   displayName: Type.String({ maxLength: 100 }),
 *   plan: Type.Union([Type.Literal('free'), Type.Literal('pro')]),
 * }
 * type AppUser = UserWith<typeof userFields>
 * // AppUser['displayName'] is string | null, AppUser['plan'] is 'free' | 'pro' | null
 * ```
 */
export type UserWith<Fields extends object, Base extends BaseUser = BaseUser> = Base & {
  -readonly [K in keyof Fields]: UserFieldValue<Fields[K]>
}
