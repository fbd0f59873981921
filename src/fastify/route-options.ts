/**
 * The options of the plugin's route groups (`routes.auth`, `routes.register`...): their paths, tags and
 * guards. Re-exported by `options.ts`, where the `routes` option takes them.
 *
 * @module
 */
import type { preHandlerAsyncHookHandler } from 'fastify'

/**
 * Guards of a route group: hooks run at preValidation, before the input is validated (any fails: refused),
 * or `'public'` to say explicitly "no guard".
 */
export type GuardsOption = readonly preHandlerAsyncHookHandler[] | 'public'

/** What every route group config has, as litestar-users' handler configs do. */
export interface RouteGroupConfig {
  /** OpenAPI tags. */
  tags?: string[]
}

/** `POST /login` and `POST /logout`. */
export interface AuthHandlerConfig extends RouteGroupConfig {
  /** Default: `'/login'`. */
  loginPath?: string
  /** Default: `'/logout'`. */
  logoutPath?: string
}

/** `POST /register`. */
export interface RegisterHandlerConfig extends RouteGroupConfig {
  /** Default: `'/register'`. */
  path?: string
}

/** `POST /verify` and `POST /verify/request`. */
export interface VerificationHandlerConfig extends RouteGroupConfig {
  /** Default: `'/verify'`; the resend route is `<path>/request`. */
  path?: string
}

/** `POST /forgot-password` and `POST /reset-password`. */
export interface PasswordResetHandlerConfig extends RouteGroupConfig {
  /** Default: `'/forgot-password'`. */
  forgotPath?: string
  /** Default: `'/reset-password'`. */
  resetPath?: string
}

/** `GET`/`PATCH /users/me` and `POST /users/me/password`. */
export interface CurrentUserHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users/me'`. */
  path?: string
}

/** The admin routes on users. */
export interface UserManagementHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users'`. */
  pathPrefix?: string
  /** Default: `[rolesAccepted('admin')]`. An empty list is refused; say `'public'` to mean it. */
  guards?: GuardsOption
  /** Maximum page size of `GET /users`, the same as the top-level `maxPageSize`. Default: `100`. */
  maxPageSize?: number
}

/** The admin routes on roles. */
export interface RoleManagementHandlerConfig extends RouteGroupConfig {
  /** Default: `'/users/roles'`. */
  pathPrefix?: string
  /** Default: `[rolesAccepted('admin')]`. An empty list is refused; say `'public'` to mean it. */
  guards?: GuardsOption
}
