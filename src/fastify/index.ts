/**
 * `fastify-users/fastify`: the Fastify plugin, its guards and its error mapping.
 *
 * @module
 */

export type { AuthCacheSettings } from './cache-setup.js'
export {
  type Problem,
  type ProblemFieldError,
  problemFromError,
  sendProblem,
  statusByCode,
} from './error-handler.js'
export { fastifyUsersFrameworkErrors } from './framework-errors.js'
export { type GuardRouteConfig, requireUser, rolesAccepted, rolesRequired } from './guards.js'
export {
  fastifyUsersLogSerializers,
  REDACTED,
  redactUrl,
  SECRET_QUERY_PARAMETERS,
} from './log-redaction.js'
export type { OAuthOptions, OAuthPreset, OAuthProviderOptions } from './oauth/providers.js'
export { type OptionalUserRouteConfig, optionalUser } from './optional-auth.js'
export type {
  AuthBackendEntry,
  AuthBackendSpec,
  AuthHandlerConfig,
  AuthOptions,
  CookieOptions,
  CurrentUserHandlerConfig,
  DatabaseOptions,
  FastifyUsersOptions,
  GuardsOption,
  MailSettings,
  PasswordResetHandlerConfig,
  RegisterHandlerConfig,
  RoleManagementHandlerConfig,
  ServiceSettings,
  UserManagementHandlerConfig,
  UserModelOptions,
  VerificationHandlerConfig,
} from './options.js'
export { DEFAULT_PAGE_PATHS, type PageName, type PagesOptions } from './pages.js'
export type { PasskeysPluginOptions } from './passkey-setup.js'
export { fastifyUsers, fastifyUsers as default } from './plugin.js'
export {
  defaultRateLimits,
  type RateLimitGroup,
  type RateLimitOptions,
  type RateLimitRule,
} from './rate-limit.js'
export type { RedisClientLike, RedisPluginOptions } from './redis-options.js'
export { type CloseOnSignalsOptions, closeOnSignals, type GracefulShutdown } from './shutdown.js'
export type { TwoFactorHandlerConfig } from './two-factor-setup.js'
export type { FastifyUsersService, RequestUser } from './types.js'
