/**
 * The application's user type, registered once. An application merges its types into
 * {@link FastifyUsersRegister} (the way `@fastify/jwt`'s `FastifyJWT` and Lucia's `Register` work), and
 * every type that hands it a user follows: `request.user`, `app.users`, the guards. With nothing
 * registered, the library's own types apply.
 *
 * @module
 */
import type { BaseUser } from './user.js'
import type { BaseUserService } from './user-service.js'

/**
 * Where an application registers its types, by declaration merging. Both keys are optional: `user`, the
 * full user record (with custom fields), and `service`, the class of the plugin's `userServiceClass`. When
 * only `service` is given, the user type is taken from it.
 *
 * @example
 * ```ts
 * import type { UserWith } from 'fastify-users'
 *
 * type AppUser = UserWith<typeof userFields>
 * class AppService extends BaseUserService<AppUser> {}
 *
 * declare module 'fastify-users' {
 *   interface FastifyUsersRegister {
 *     user: AppUser
 *     service: AppService
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: empty on purpose, applications merge their types into it.
export interface FastifyUsersRegister {}

/**
 * The user type the application registered: `FastifyUsersRegister['user']`, else the user type of the
 * registered `service`, else {@link BaseUser}. A registered `user` that names only the custom fields
 * (`{ nickname: string | null }`) is added to `BaseUser`. It is the full record; `request.user` is its
 * `PublicUser` (without the password hash).
 *
 * @example
 * ```ts
 * function greet(user: RegisteredUser) { return `hello, ${user.email}` }
 * ```
 */
export type RegisteredUser = FastifyUsersRegister extends { user: infer U }
  ? U extends BaseUser
    ? U
    : BaseUser & U
  : // biome-ignore lint/suspicious/noExplicitAny: only the user type is read; the other parameters may be anything.
    FastifyUsersRegister extends { service: BaseUserService<infer U, any, any> }
    ? U
    : BaseUser

/**
 * The service type the application registered (`FastifyUsersRegister['service']`), or `Fallback` when it
 * registered none. The Fastify plugin passes a `BaseUserService` of the registered user as the fallback.
 *
 * @example
 * ```ts
 * const users: RegisteredService = app.users
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: the request type of a registered service is the application's.
export type RegisteredService<Fallback = BaseUserService<RegisteredUser, any, any>> =
  FastifyUsersRegister extends {
    service: infer S
  }
    ? S
    : Fallback
