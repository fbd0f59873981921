/**
 * The user as code outside the service sees it: every field but the secrets. The service and its hooks
 * work on full records (they need the hash to check a password); anything the HTTP layer hands to an
 * application (`request.user`, the guards) is reduced to this shape first, so no route, log line or
 * template can leak a hash by serialising the user it was given.
 *
 * @module
 */
import type { BaseUser } from './user.js'

/** The fields of a user record that never leave the service. */
export const SECRET_USER_FIELDS = ['passwordHash'] as const

/** A user without its secrets, as `request.user` holds it. */
export type PublicUser<U extends BaseUser = BaseUser> = Omit<U, (typeof SECRET_USER_FIELDS)[number]>

/**
 * A copy of a user record without its secret fields (the record itself is left unchanged).
 *
 * @example
 * ```ts
 * const user = withoutSecrets(await service.getUser(id))
 * 'passwordHash' in user // false
 * ```
 */
export function withoutSecrets<U extends BaseUser>(user: U): PublicUser<U> {
  // A rest copy, not `delete` on a spread copy: `delete` turns the object into a slow dictionary, and
  // this runs on every authenticated request, before the serializer reads every field. The tuple type
  // below breaks the build if the list of secret fields changes without this line.
  const fields: readonly ['passwordHash'] = SECRET_USER_FIELDS
  const { [fields[0]]: _secret, ...copy } = user
  return copy
}
