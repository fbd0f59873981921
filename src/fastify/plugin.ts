/**
 * The `fastify-users` plugin: one `app.register(fastifyUsers, options)` gives an application every route
 * of the user-management API on the backend it chooses, with role guards and OpenAPI docs.
 *
 * @module
 */
import fastifyCookie from '@fastify/cookie'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { AuthBackend } from '../auth/auth-backend.js'
import { JwtBackend } from '../auth/jwt-backend.js'
import { SessionBackend } from '../auth/session-backend.js'
import type { PublicUser } from '../core/public-user.js'
import type { BaseUser, Role } from '../core/user.js'
import { BaseUserService } from '../core/user-service.js'
import { connectDatabase } from '../persistence/kysely/connect.js'
import { createKyselyRepositories, migrateToLatest } from '../persistence/kysely/index.js'
import { errorHandler } from './error-handler.js'
import { installFrameworkErrors } from './framework-errors.js'
import { type GuardRouteConfig, guardsFromConfig, rolesAccepted } from './guards.js'
import { installLogRedaction } from './log-redaction.js'
import { installNotFound, installProblemAnswers, PluginPaths } from './not-found.js'
import { appHasSwagger, declareSecuritySchemeInAppDocument, securitySchemeOf } from './openapi.js'
import {
  checkOptionalUserConfig,
  type OptionalUserRouteConfig,
  resolveOptionalUser,
} from './optional-auth.js'
import { type FastifyUsersOptions, type GuardsOption, resolveOptions } from './options.js'
import { createRateLimits, resolveRateLimits } from './rate-limit.js'
import { AUTHENTICATOR, RequestAuthenticator } from './request-auth.js'
import type { RouteContext } from './route-context.js'
import { authRoutes } from './routes/auth-routes.js'
import { currentUserRoutes } from './routes/current-user-routes.js'
import { passwordResetRoutes } from './routes/password-reset-routes.js'
import { registerRoutes } from './routes/register-routes.js'
import { roleManagementRoutes } from './routes/role-management-routes.js'
import { userManagementRoutes } from './routes/user-management-routes.js'
import { verificationRoutes } from './routes/verification-routes.js'
import { buildSchemas } from './schemas.js'
import { apiSecurityHeaders, docsSecurityHeaders } from './security-headers.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The user service of the `fastify-users` plugin. */
    users: BaseUserService<BaseUser, Role, FastifyRequest>
  }
  interface FastifyRequest {
    /**
     * The authenticated user, set by the `fastify-users` guards and by `optionalUser`; `null` before them or
     * without a valid credential. It never holds the password hash: ask `fastify.users` for what the service
     * keeps.
     */
    user: PublicUser | null
  }
  interface FastifyContextConfig extends GuardRouteConfig, OptionalUserRouteConfig {}
}

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv

// Requests are validated strictly: unknown fields are refused (never silently dropped, so a client learns
// its mistake and nothing unlisted reaches the service), and JSON bodies are never coerced ("12345678" is
// not a number, ["a@x"] is not an email). Query strings and path params are text, so they are coerced.
function validators() {
  const make = (coerceTypes: boolean) =>
    addFormats(
      new Ajv({ removeAdditional: false, coerceTypes, useDefaults: true, allErrors: true, strict: false }),
    )
  return { body: make(false), text: make(true) }
}

const AUTH_BODY_LIMIT = 16 * 1024
const SWEEP_INTERVAL_MS = 10 * 60 * 1000

async function plugin(fastify: FastifyInstance, options: FastifyUsersOptions): Promise<void> {
  const resolved = resolveOptions(options)
  const identifier = options.userAuthIdentifier ?? 'email'

  let db: Kysely<unknown>
  let ownsDb = false
  if (typeof options.database === 'string') {
    db = (await connectDatabase<unknown>(options.database, { connectTimeoutMs: options.connectTimeoutMs })).db
    ownsDb = true
  } else {
    db = options.database
  }
  // Registered first, so it runs last on close; and it runs even when a later step of the registration
  // throws (a bad option, a failed migration), so a failed boot leaves no pool open.
  fastify.addHook('onClose', async () => {
    if (ownsDb) await db.destroy()
  })
  if (options.migrate) {
    const { executed } = await migrateToLatest(db, {
      idType: resolved.idType,
      migrations: options.migrations,
    })
    if (executed.length > 0) fastify.log.info({ migrations: executed }, 'fastify-users: migrations applied')
  }

  const clock = options.clock
  const repos = createKyselyRepositories(db, {
    idType: resolved.idType,
    userFields: options.userFields,
    now: clock ? () => clock.now() : undefined,
  })
  const ServiceClass = options.userServiceClass ?? BaseUserService
  const service = new ServiceClass({
    secret: options.secret,
    userAuthIdentifier: identifier,
    userRepository: repos.userRepository,
    roleRepository: repos.roleRepository,
    sessionRepository: repos.sessionRepository,
    tokenDenylist: repos.tokenDenylist,
    loginAttemptStore: repos.loginAttemptStore,
    loginThrottle: options.loginThrottle,
    adminRoles: options.adminRoles,
    adminLock: repos.adminLock,
    mailCapStore: repos.mailCapStore,
    mailCap: options.mailCap,
    hashSchemes: options.hashSchemes,
    passwordHashing: options.passwordHashing,
    passwordPolicy: options.passwordPolicy,
    requireVerificationOnRegistration: options.requireVerificationOnRegistration,
    tokenLifetimes: options.tokenLifetimes,
    defaultRoles: options.defaultRoles,
    mailer: options.mailer,
    mail: options.baseUrl
      ? {
          baseUrl: options.baseUrl,
          verifyPath: options.linkPaths?.verify,
          resetPath: options.linkPaths?.reset,
          confirmEmailPath: options.linkPaths?.confirmEmail,
          cancelEmailPath: options.linkPaths?.cancelEmail,
          appName: options.appName,
        }
      : undefined,
    logger: fastify.log,
    clock: options.clock,
  }) as BaseUserService<BaseUser, Role, FastifyRequest>

  const requireVerified = service.requireVerificationOnRegistration
  const cookiePrefix = resolved.cookieSecure ? '__Host-' : ''
  let backend: AuthBackend
  if (resolved.authBackend === 'session') {
    backend = new SessionBackend({
      users: repos.userRepository,
      sessions: repos.sessionRepository,
      clock: service.clock,
      cookieName: `${cookiePrefix}fastify-users-session`,
      idleTimeoutSeconds: options.session?.idleTimeoutSeconds,
      absoluteTimeoutSeconds: options.session?.absoluteTimeoutSeconds,
      requireVerified,
    })
  } else {
    backend = new JwtBackend({
      users: repos.userRepository,
      denylist: repos.tokenDenylist,
      tokens: service.tokens,
      clock: service.clock,
      lifetimeSeconds: service.tokenLifetimes.access,
      transport: resolved.authBackend === 'jwt' ? 'bearer' : 'cookie',
      cookieName: `${cookiePrefix}fastify-users-token`,
      requireVerified,
      parseId: (sub) => service.parseId(sub),
    })
  }
  const auth = new RequestAuthenticator(backend, {
    trustedOrigins: resolved.trustedOrigins,
    secure: resolved.cookieSecure,
    sameSite: resolved.sameSite,
    logger: fastify.log,
  })

  const redactingReq = installLogRedaction(fastify)
  const pluginPaths = new PluginPaths()
  installNotFound(fastify, pluginPaths)
  installProblemAnswers(fastify, pluginPaths)
  installFrameworkErrors(fastify, pluginPaths)
  fastify.decorate('users', service)
  fastify.decorate(AUTHENTICATOR, auth)
  fastify.decorateRequest('user', null)
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)

  // Guards declared in route config, on the plugin's routes and the application's own. A root hook, not
  // an onRoute rewrite: it also covers routes declared before this plugin finished loading (an app that
  // did not await the registration), which would otherwise be served unguarded. It runs before
  // validation, so a request without the right credential gets 401/403 whatever its body.
  const configGuards = new WeakMap<object, preHandlerAsyncHookHandler[]>()
  fastify.addHook('onRoute', (route) => {
    // Malformed guard config fails at registration, not at the first request.
    guardsFromConfig(route.config as GuardRouteConfig | undefined, route.url)
    checkOptionalUserConfig(route.config as OptionalUserRouteConfig | undefined, route.url)
  })
  fastify.addHook('preValidation', async function (request, reply) {
    const config = request.routeOptions.config as (GuardRouteConfig & OptionalUserRouteConfig) | undefined
    if (config?.optionalUser === true) await resolveOptionalUser(request)
    if (!config || (config.requireUser === undefined && !config.rolesAccepted && !config.rolesRequired))
      return
    let guards = configGuards.get(config)
    if (!guards) {
      guards = guardsFromConfig(config, request.routeOptions.url ?? request.url)
      configGuards.set(config, guards)
    }
    for (const guard of guards) {
      await guard.call(this, request, reply)
      if (reply.sent) return reply
    }
  })

  const schemas = buildSchemas({
    idType: resolved.idType,
    userAuthIdentifier: identifier,
    userFields: options.userFields ?? {},
    adminOnlyFields: resolved.adminOnlyFields,
    maxPageSize: resolved.maxPageSize,
  })
  // Shared schemas live on the root instance, where the serializer and the OpenAPI generator find them.
  fastify.addSchema(schemas.Role)
  fastify.addSchema(schemas.User)
  fastify.addSchema(schemas.Problem)

  const securityName = resolved.authBackend === 'jwt' ? 'bearerAuth' : 'cookieAuth'
  const openapi = options.openapi ?? true
  const securitySchemes = securitySchemeOf(resolved.authBackend, backend.cookieName)
  // An app that registered @fastify/swagger first keeps its document; the plugin's routes join it.
  const inAppDocument = appHasSwagger(fastify)
  if (openapi !== false && !inAppDocument) {
    const settings = typeof openapi === 'object' ? openapi : {}
    await fastify.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: settings.title ?? options.appName ?? 'fastify-users',
          version: settings.version ?? '1.0.0',
          description:
            'User management: registration, verification, login, password reset, profile, admin users and roles.',
        },
        components: {
          securitySchemes,
        },
      },
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    })
    // Its own context, so that the docs' security headers stay off the application's routes.
    await fastify.register((docs, _opts, done) => {
      docs.addHook('onRoute', (route) => pluginPaths.add(route.url, route.method))
      docsSecurityHeaders(docs, { https: resolved.cookieSecure })
      docs.register(fastifySwaggerUi, { routePrefix: settings.docsPath ?? '/docs' })
      docs.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
      done()
    })
  }

  const context: RouteContext = {
    service,
    auth,
    schemas,
    options,
    resolved,
    security: [{ [securityName]: [] }],
  }
  const adminGuards = (guards: GuardsOption | undefined): preHandlerAsyncHookHandler[] =>
    guards === 'public' ? [] : guards ? [...guards] : [rolesAccepted(...service.adminGuard.adminRoles)]

  // A route group turned off (`false`) keeps its default path: its routes are not registered anyway.
  const { auth: a, register: r, verification: v, passwordReset: p } = options.routes ?? {}
  const limitRoute = await createRateLimits(fastify, resolveRateLimits(options.rateLimit), {
    login: (a ? a.loginPath : undefined) ?? '/login',
    register: (r ? r.path : undefined) ?? '/register',
    verify: (v ? v.path : undefined) ?? '/verify',
    forgot: (p ? p.forgotPath : undefined) ?? '/forgot-password',
    reset: (p ? p.resetPath : undefined) ?? '/reset-password',
  })
  // Route registration is synchronous, hence the callback form of an encapsulated plugin.
  await fastify.register((routes, _opts, done) => {
    if (inAppDocument) declareSecuritySchemeInAppDocument(routes, securitySchemes)
    const ajv = validators()
    routes.setValidatorCompiler(({ schema, httpPart }) =>
      (httpPart === 'body' ? ajv.body : ajv.text).compile(schema),
    )
    routes.setErrorHandler(errorHandler)
    // JSON only: Fastify also parses text/plain by default, a type a cross-site form or a no-preflight
    // fetch can send; refusing it with 415 keeps every body of these routes a JSON object.
    routes.removeContentTypeParser('text/plain')
    apiSecurityHeaders(routes, { https: resolved.cookieSecure })
    routes.addHook('onRoute', (route) => {
      route.bodyLimit ??= AUTH_BODY_LIMIT
      route.logSerializers = { ...route.logSerializers, req: redactingReq }
      pluginPaths.add(route.url, route.method)
    })
    routes.addHook('onRoute', limitRoute)
    routes.addHook('onRequest', async (request) => {
      auth.checkOrigin(request)
    })
    const groups = options.routes ?? {}
    if (groups.auth !== false) authRoutes(routes, context, groups.auth ?? {})
    if (groups.register !== false) registerRoutes(routes, context, groups.register ?? {})
    if (groups.verification !== false) verificationRoutes(routes, context, groups.verification ?? {})
    if (groups.passwordReset !== false) passwordResetRoutes(routes, context, groups.passwordReset ?? {})
    if (groups.currentUser !== false) currentUserRoutes(routes, context, groups.currentUser ?? {})
    if (groups.userManagement !== false) {
      const config = groups.userManagement ?? {}
      userManagementRoutes(routes, context, config, adminGuards(config.guards))
    }
    if (groups.roleManagement !== false) {
      const config = groups.roleManagement ?? {}
      roleManagementRoutes(routes, context, config, adminGuards(config.guards))
    }
    done()
  })

  // Expired rows are ignored anyway; the sweep only keeps the tables small (what is dead: purgeExpired).
  const sweep = setInterval(() => {
    service
      .purgeExpired()
      .catch((err) => fastify.log.warn({ err }, 'fastify-users: sweeping expired sessions failed'))
  }, SWEEP_INTERVAL_MS)
  sweep.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(sweep)
    await service.settled()
  })
}

/**
 * The `fastify-users` Fastify plugin.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifyUsers } from 'fastify-users/fastify'
 *
 * const app = Fastify({ logger: true })
 * await app.register(fastifyUsers, {
 *   secret: process.env.USERS_SECRET!,
 *   database: 'sqlite:data/users.db',
 *   migrate: true,
 *   authBackend: 'session',
 * })
 * ```
 */
export const fastifyUsers = fp(plugin as FastifyPluginAsync<FastifyUsersOptions>, {
  name: 'fastify-users',
  fastify: '5.x',
}) as FastifyPluginAsync<FastifyUsersOptions>
