/**
 * The guards declared in route config (`requireUser`, `rolesAccepted`, `rolesRequired`, `optionalUser`),
 * on the plugin's routes and the application's own.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { type GuardRouteConfig, guardsFromConfig } from './guards.js'
import {
  checkOptionalUserConfig,
  type OptionalUserRouteConfig,
  resolveOptionalUser,
} from './optional-auth.js'

/**
 * Installs the config guards on the root instance. A root hook, not an onRoute rewrite: it also covers
 * routes declared before the plugin finished loading (an app that did not await the registration), which
 * would otherwise be served unguarded. It runs before validation, so a request without the right
 * credential gets 401/403 whatever its body. Malformed guard config fails at registration.
 *
 * @example
 * ```ts
 * installConfigGuards(fastify)
 * app.get('/me', { config: { requireUser: true } }, handler)
 * ```
 */
export function installConfigGuards(fastify: FastifyInstance): void {
  const configGuards = new WeakMap<object, preHandlerAsyncHookHandler[]>()
  fastify.addHook('onRoute', (route) => {
    guardsFromConfig(route.config as GuardRouteConfig | undefined, route.url)
    checkOptionalUserConfig(route.config as OptionalUserRouteConfig | undefined, route.url)
  })
  const hasGuards = (config: GuardRouteConfig | undefined): config is GuardRouteConfig =>
    config !== undefined &&
    (config.requireUser !== undefined || Boolean(config.rolesAccepted) || Boolean(config.rolesRequired))
  // A callback hook that returns at once for a route with nothing to check (every route of the
  // application runs it; an async hook would cost a promise and a microtask on each).
  fastify.addHook('preValidation', function (request, reply, done) {
    const config = request.routeOptions.config as (GuardRouteConfig & OptionalUserRouteConfig) | undefined
    if (config?.optionalUser !== true && !hasGuards(config)) return done()
    check.call(this, request, reply, config!).then(() => {
      if (!reply.sent) done()
    }, done)
  })

  async function check(
    this: FastifyInstance,
    request: FastifyRequest,
    reply: FastifyReply,
    config: GuardRouteConfig & OptionalUserRouteConfig,
  ): Promise<void> {
    if (config.optionalUser === true) await resolveOptionalUser(request)
    if (!hasGuards(config)) return
    let guards = configGuards.get(config)
    if (!guards) {
      guards = guardsFromConfig(config, request.routeOptions.url ?? request.url)
      configGuards.set(config, guards)
    }
    for (const guard of guards) {
      await guard.call(this, request, reply)
      if (reply.sent) return
    }
  }
}
