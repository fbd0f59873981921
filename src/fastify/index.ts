/**
 * `fastify-users/fastify`: the Fastify plugin, its guards and its error mapping.
 *
 * @module
 */
export {
  type Problem,
  type ProblemFieldError,
  problemFromError,
  sendProblem,
  statusByCode,
} from './error-handler.js'
export { type GuardRouteConfig, requireUser, rolesAccepted, rolesRequired } from './guards.js'
export { type OptionalUserRouteConfig, optionalUser } from './optional-auth.js'
export type {
  AuthHandlerConfig,
  CookieOptions,
  CurrentUserHandlerConfig,
  FastifyUsersOptions,
  GuardsOption,
  PasswordResetHandlerConfig,
  RegisterHandlerConfig,
  RoleManagementHandlerConfig,
  UserManagementHandlerConfig,
  VerificationHandlerConfig,
} from './options.js'
export { fastifyUsers, fastifyUsers as default } from './plugin.js'
