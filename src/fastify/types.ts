/**
 * What the plugin adds to Fastify's own types: `app.users`, `request.user` and the route `config` keys.
 * The user and service types come from the application's registration (`FastifyUsersRegister`), so an
 * application that registers its user type reads its own fields on `request.user` without a cast.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import type { PublicUser } from '../core/public-user.js'
import type { RegisteredService, RegisteredUser } from '../core/register.js'
import type { Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import type { GuardRouteConfig } from './guards.js'
import type { OptionalUserRouteConfig } from './optional-auth.js'

/**
 * The type of `app.users`: the registered `service`, or a `BaseUserService` of the registered user.
 *
 * @example
 * ```ts
 * const users: FastifyUsersService = app.users
 * ```
 */
export type FastifyUsersService = RegisteredService<BaseUserService<RegisteredUser, Role, FastifyRequest>>

/**
 * The type of `request.user` once set: the registered user without its secrets (no password hash).
 *
 * @example
 * ```ts
 * function displayName(user: RequestUser) { return user.email }
 * ```
 */
export type RequestUser = PublicUser<RegisteredUser>

declare module 'fastify' {
  interface FastifyInstance {
    /** The user service of the `fastify-users` plugin. */
    users: FastifyUsersService
  }
  interface FastifyRequest {
    /**
     * The authenticated user, set by the `fastify-users` guards and by `optionalUser`; `null` before them or
     * without a valid credential. It never holds the password hash: ask `fastify.users` for what the service
     * keeps.
     */
    user: RequestUser | null
  }
  interface FastifyContextConfig extends GuardRouteConfig, OptionalUserRouteConfig {}
}
