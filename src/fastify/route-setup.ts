/**
 * The plugin's routes, in one encapsulated context: strict validators, the problem+json error handler,
 * JSON-only bodies, security headers, rate limits, the origin check, and the route groups that are on.
 *
 * @module
 */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify'
import { errorHandler } from './error-handler.js'
import { rolesAccepted } from './guards.js'
import type { installLogRedaction } from './log-redaction.js'
import type { PluginPaths } from './not-found.js'
import { documentPluginRoutes, type SecurityScheme } from './openapi.js'
import type { GuardsOption } from './options.js'
import { createRateLimits, resolveRateLimits } from './rate-limit.js'
import type { RouteContext } from './route-context.js'
import { authRoutes } from './routes/auth-routes.js'
import { currentUserRoutes } from './routes/current-user-routes.js'
import { oauthRoutes } from './routes/oauth-routes.js'
import { passkeyRoutes } from './routes/passkey-routes.js'
import { passwordResetRoutes } from './routes/password-reset-routes.js'
import { refreshRoutes } from './routes/refresh-routes.js'
import { registerRoutes } from './routes/register-routes.js'
import { roleManagementRoutes } from './routes/role-management-routes.js'
import { adminSessionRoutes, currentUserSessionRoutes } from './routes/session-routes.js'
import { twoFactorRoutes } from './routes/two-factor-routes.js'
import { userManagementRoutes } from './routes/user-management-routes.js'
import { verificationRoutes } from './routes/verification-routes.js'
import { apiSecurityHeaders } from './security-headers.js'
import { useStrictValidators } from './validators.js'

const AUTH_BODY_LIMIT = 16 * 1024

/** What the route registration needs beyond the route context. */
export interface RouteSetup {
  pluginPaths: PluginPaths
  /** The request log serializer that redacts secrets. */
  redactingReq: ReturnType<typeof installLogRedaction>
  /** The security schemes of the configured backends, declared in whichever OpenAPI document is built. */
  schemes: Record<string, SecurityScheme>
}

/**
 * Registers every route group that is on, with its rate limits.
 *
 * @example
 * ```ts
 * await registerPluginRoutes(fastify, context, { pluginPaths, redactingReq, schemes })
 * ```
 */
export async function registerPluginRoutes(
  fastify: FastifyInstance,
  context: RouteContext,
  setup: RouteSetup,
): Promise<void> {
  const { options, resolved, auth, service } = context
  const adminGuards = (guards: GuardsOption | undefined): preHandlerAsyncHookHandler[] =>
    guards === 'public' ? [] : guards ? [...guards] : [rolesAccepted(...service.adminGuard.adminRoles)]

  // A route group turned off (`false`) keeps its default path: its routes are not registered anyway.
  const { auth: a, register: r, verification: v, passwordReset: p } = options.routes ?? {}
  const rateLimits = resolveRateLimits(options.rateLimit)
  const limitRoute = await createRateLimits(fastify, rateLimits, {
    login: (a ? a.loginPath : undefined) ?? '/login',
    register: (r ? r.path : undefined) ?? '/register',
    verify: (v ? v.path : undefined) ?? '/verify',
    forgot: (p ? p.forgotPath : undefined) ?? '/forgot-password',
    reset: (p ? p.resetPath : undefined) ?? '/reset-password',
  })
  // Route registration is synchronous, hence the callback form of an encapsulated plugin.
  await fastify.register((routes, _opts, done) => {
    const backends = auth.backends.map((backend) => ({
      name: backend.name,
      cookie: Boolean(backend.cookieName),
    }))
    documentPluginRoutes(routes, setup.schemes, {
      cookieBackend: backends.some((backend) => backend.cookie),
      backends,
      rateLimited: Boolean(rateLimits),
      challenge: auth.challenge,
    })
    useStrictValidators(routes)
    routes.setErrorHandler(errorHandler)
    // JSON only: Fastify also parses text/plain by default, a type a cross-site form or a no-preflight
    // fetch can send; refusing it with 415 keeps every body of these routes a JSON object.
    routes.removeContentTypeParser('text/plain')
    apiSecurityHeaders(routes, { https: resolved.cookieSecure })
    routes.addHook('onRoute', (route) => {
      route.bodyLimit ??= AUTH_BODY_LIMIT
      route.logSerializers = { ...route.logSerializers, req: setup.redactingReq }
      setup.pluginPaths.add(route.url, route.method)
    })
    routes.addHook('onRoute', limitRoute)
    // A callback hook: it runs on every request of the plugin's routes, and most pass at once.
    routes.addHook('onRequest', (request, _reply, done) => {
      // A provider's form POST comes from its site by design; that route only redirects (oauth-routes.ts).
      if ((request.routeOptions.config as { crossSiteForm?: boolean }).crossSiteForm === true) return done()
      try {
        auth.checkOrigin(request)
      } catch (err) {
        return done(err as Error)
      }
      done()
    })
    const groups = options.routes ?? {}
    if (groups.auth !== false) authRoutes(routes, context, groups.auth ?? {})
    if (groups.auth !== false) refreshRoutes(routes, context, groups.auth ?? {})
    if (groups.register !== false) registerRoutes(routes, context, groups.register ?? {})
    if (groups.verification !== false) verificationRoutes(routes, context, groups.verification ?? {})
    if (groups.passwordReset !== false) passwordResetRoutes(routes, context, groups.passwordReset ?? {})
    if (groups.currentUser !== false) currentUserRoutes(routes, context, groups.currentUser ?? {})
    if (groups.currentUser !== false) {
      const { path = '/users/me', tags = ['current user'] } = groups.currentUser ?? {}
      currentUserSessionRoutes(routes, context, { path, tags })
    }
    if (groups.userManagement !== false) {
      const config = groups.userManagement ?? {}
      userManagementRoutes(routes, context, config, adminGuards(config.guards))
      const { pathPrefix = '/users', tags = ['users'] } = config
      adminSessionRoutes(routes, context, { prefix: pathPrefix, tags }, adminGuards(config.guards))
    }
    if (groups.roleManagement !== false) {
      const config = groups.roleManagement ?? {}
      roleManagementRoutes(routes, context, config, adminGuards(config.guards))
    }
    if (options.oauth) {
      const secret = typeof options.secret === 'string' ? options.secret : options.secret?.[0]
      try {
        oauthRoutes(routes, context, options.oauth, {
          prefix: routes.prefix,
          secret,
          baseUrl: options.baseUrl,
          mePath: (groups.currentUser ? groups.currentUser.path : undefined) ?? '/users/me',
        })
      } catch (err) {
        // A throw in a callback-style plugin escapes registration; handed to `done`, it rejects `ready()`.
        done(err as Error)
        return
      }
    }
    if (groups.twoFactor) twoFactorRoutes(routes, context, groups.twoFactor)
    if (context.passkeys) passkeyRoutes(routes, context, context.passkeys)
    done()
  })
}
