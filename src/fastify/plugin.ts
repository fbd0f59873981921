/**
 * The `fastify-users` plugin: one `app.register(fastifyUsers, options)` gives an application every route
 * of the user-management API on the backend it chooses, with role guards and OpenAPI docs.
 *
 * @module
 */
import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { SensitiveChanges } from '../core/sensitive-changes.js'
import { createRedisStores } from '../persistence/redis/index.js'
import { buildBackends } from './backends.js'
import { cacheOverRedis, setUpAuthCache } from './cache-setup.js'
import { installConfigGuards } from './config-guards.js'
import { setUpDatabase } from './database-setup.js'
import { serveDocs } from './docs-setup.js'
import { installFrameworkErrors } from './framework-errors.js'
import { installLogRedaction } from './log-redaction.js'
import { loginPageApi } from './login-page.js'
import { normalizeOptions } from './normalize-options.js'
import { installNotFound, installProblemAnswers, PluginPaths } from './not-found.js'
import { providerLabels } from './oauth/providers.js'
import { appHasSwagger, securityOf } from './openapi.js'
import { loadOptionalPackages } from './optional-packages.js'
import { type FastifyUsersOptions, resolveOptions } from './options.js'
import { pageLinks, pagesApiPaths, registerPages, resolvePages } from './pages.js'
import { setUpPasskeys } from './passkey-setup.js'
import { rateLimitWithRedis, setUpRedis } from './redis-setup.js'
import { AUTH_STATE, AUTHENTICATOR, RequestAuthenticator } from './request-auth.js'
import type { RouteContext } from './route-context.js'
import { registerPluginRoutes } from './route-setup.js'
import { buildSchemas } from './schemas.js'
import { setUpService } from './service-setup.js'
import { scheduleSweep, sweepTargets } from './sweep.js'
import { setUpTwoFactor } from './two-factor-setup.js'
import './types.js'

/**
 * Composes the plugin from its parts; each step lives in a module of its own. The order matters: the
 * database's close hook first (it then runs last), the service before the backends built on it, the
 * decorators and guards before any route, the docs before the routes they describe.
 */
async function plugin(fastify: FastifyInstance, options: FastifyUsersOptions): Promise<void> {
  const flat = normalizeOptions(options)
  const resolved = resolveOptions(flat)
  const pages = resolvePages(flat.pages)
  const db = await setUpDatabase(fastify, flat, resolved.idType)
  // `redis.client` is the one Redis connection of the plugin: its stores and rate-limit counts use it.
  const redis = await setUpRedis(fastify, flat)
  flat.rateLimit = rateLimitWithRedis(flat.rateLimit, redis)
  const clock = flat.clock
  const sharedStores = redis
    ? createRedisStores(redis.client, { prefix: redis.prefix, now: clock ? () => clock.now() : undefined })
    : undefined
  const pageApi = pagesApiPaths(flat)
  const constructedService = flat.serviceInstance !== undefined
  const cache = await setUpAuthCache(
    fastify,
    {
      ...flat,
      cache: cacheOverRedis(flat.cache, redis?.client, constructedService),
      constructedService,
      tables: resolved.tables,
    },
    db,
  )
  const { service, tokenDenylist } = setUpService(
    flat,
    db,
    resolved.idType,
    fastify.log,
    pageLinks(fastify.prefix, pages, pageApi),
    sharedStores,
    cache,
  )

  const backends = buildBackends(flat.backends, {
    service,
    tokenDenylist,
    cookieSecure: resolved.cookieSecure,
    session: flat.session,
    refreshToken: flat.refreshToken,
    cache,
  })
  const auth = new RequestAuthenticator(backends, {
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
  fastify.decorateRequest(AUTH_STATE, null)
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
  installConfigGuards(fastify)

  const schemas = buildSchemas({
    idType: resolved.idType,
    userAuthIdentifier: service.userAuthIdentifier,
    userFields: flat.userFields ?? {},
    adminOnlyFields: resolved.adminOnlyFields,
    maxPageSize: resolved.maxPageSize,
  })
  // Shared schemas live on the root instance, where the serializer and the OpenAPI generator find them.
  fastify.addSchema(schemas.Role)
  fastify.addSchema(schemas.User)
  fastify.addSchema(schemas.Problem)

  const { schemes, security } = securityOf(backends)
  // An app that registered @fastify/swagger first keeps its document; the plugin's routes join it.
  const inAppDocument = appHasSwagger(fastify)
  await serveDocs(fastify, flat, { schemes, pluginPaths, https: resolved.cookieSecure, inAppDocument })

  // Two-factor is built on the passkeys (a passkey answers the second step), while adding or removing a
  // passkey takes the current password or a recent proof of two-factor's step-up window: each asks
  // `changes` when it runs, by which time both exist.
  let changes = new SensitiveChanges(service)
  const credentialIdOf = (request: unknown) => auth.credential(request as FastifyRequest)?.id ?? null
  const passkeys = setUpPasskeys(flat.passkeys, service, db, resolved, {
    requireRecentProof: (user, proof, request) =>
      changes.passkeyStepUp(credentialIdOf).requireRecentProof(user, proof, request),
    recordProof: async () => {},
  })
  const twoFactor = setUpTwoFactor(flat, db, resolved.idType, service, passkeys)
  changes = new SensitiveChanges(service, twoFactor?.stepUp ?? null)
  await loadOptionalPackages({ passwords: service.passwords, twoFactor, oauth: flat.oauth })
  const context: RouteContext = {
    service,
    auth,
    schemas,
    options: flat,
    resolved,
    security,
    twoFactor,
    passkeys,
  }
  await registerPluginRoutes(fastify, context, {
    pluginPaths,
    redactingReq,
    schemes,
  })

  if (pages) {
    const loginPage = loginPageApi(pages, flat.routes, backends, service.userAuthIdentifier)
    registerPages(fastify, {
      pages,
      api: pageApi,
      appName: flat.appName ?? 'fastify-users',
      https: resolved.cookieSecure,
      login: loginPage && passkeys ? { ...loginPage, passkey: '/login/passkey' } : loginPage,
      providers: providerLabels(flat.oauth),
      redirectAllowList: flat.oauth?.redirectAllowList ?? [],
      onRoute: (route) => {
        route.logSerializers = { ...route.logSerializers, req: redactingReq }
        pluginPaths.add(route.url, route.method)
      },
    })
  }

  scheduleSweep(
    fastify,
    sweepTargets(service, { tokenDenylist, stepUp: twoFactor?.stepUp, passkeys: passkeys ?? undefined }),
    () => service.settled(),
  )
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
 *
 * // The same, grouped by concern, with a Bearer JWT for API clients next to the browser's session cookie
 * // (its login is `POST /auth/jwt/login`):
 * await app.register(fastifyUsers, {
 *   secret: process.env.USERS_SECRET!,
 *   database: { connection: 'sqlite:data/users.db', migrate: true },
 *   auth: { backends: ['session', 'jwt'] },
 * })
 * ```
 */
export const fastifyUsers = fp(plugin as FastifyPluginAsync<FastifyUsersOptions>, {
  name: 'fastify-users',
  fastify: '5.x',
}) as FastifyPluginAsync<FastifyUsersOptions>
