/**
 * Optional authentication: a public route that wants to know who is asking, without refusing anyone.
 * `request.user` is the user of a valid credential, or `null` (no credential, or one that is invalid,
 * expired, revoked, of an inactive user, or sent cross-site to a cookie backend); never 401.
 *
 * Only routes that ask pay for it: other routes never look at a credential unless a guard does.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { CrossOriginError } from '../kernel/errors.js'
import { authenticatorOf } from './request-auth.js'

/** The route `config` key that turns on optional authentication. */
export interface OptionalUserRouteConfig {
  /** Set `request.user` when the request carries a valid credential, never refuse. Default: `false`. */
  optionalUser?: boolean
}

/**
 * Sets `request.user` from the request's credential, or to `null`. A credential the backend does not accept
 * makes the request anonymous, not refused. On the cookie backends a state-changing request from another
 * site is also anonymous: its cookie was sent by the browser, not by the user's intent (CSRF), so it must
 * not act as the user; the request itself goes on, as any anonymous one would. Faults (the database is
 * down) are not hidden: they fail the request.
 */
export async function resolveOptionalUser(request: FastifyRequest): Promise<void> {
  const auth = authenticatorOf(request.server)
  try {
    auth.checkOrigin(request)
  } catch (err) {
    if (!(err instanceof CrossOriginError)) throw err
    request.user = null
    return
  }
  await auth.authenticate(request)
}

/**
 * A hook that sets `request.user` when the request carries a valid credential and lets every request
 * through: the user of a valid session or token, or `null`. The same as the route config
 * `{ optionalUser: true }`.
 *
 * @example
 * ```ts
 * app.get('/', { preHandler: optionalUser() }, async (request) =>
 *   `hello, ${request.user?.email ?? 'stranger'}`,
 * )
 * ```
 */
export function optionalUser(): preHandlerAsyncHookHandler {
  const handler = async (request: FastifyRequest, _reply: FastifyReply) => {
    await resolveOptionalUser(request)
  }
  Object.defineProperty(handler, 'name', { value: 'optionalUser' })
  return handler as preHandlerAsyncHookHandler
}

/** Throws `TypeError` at registration when a route's `config.optionalUser` is not a boolean. */
export function checkOptionalUserConfig(config: OptionalUserRouteConfig | undefined, url: string): void {
  const value = config?.optionalUser
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`fastify-users: route ${url}: config.optionalUser must be a boolean`)
  }
}
