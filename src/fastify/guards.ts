/**
 * Role guards for the plugin's admin routes and the application's own. Each is a Fastify hook, usable as
 * a preHandler or a preValidation; the same guards are attached by route `config` (`{ requireUser: true }`,
 * `{ rolesAccepted: [...] }`, `{ rolesRequired: [...] }`), and those, like the plugin's own, run at
 * preValidation: a request without the right credential is refused before its input is validated.
 * No credential answers 401, a missing role 403. Roles are read from the
 * database with the user on every request, so a revoked role stops working on the next request.
 *
 * @module
 */
import type {
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  preHandlerAsyncHookHandler,
} from 'fastify'
import { canonicalRoleName } from '../core/identifiers.js'
import type { PublicUser } from '../core/public-user.js'
import { ForbiddenError, UnauthenticatedError } from '../kernel/errors.js'
import { sendProblem } from './error-handler.js'
import { redactUrl } from './log-redaction.js'
import { authenticatorOf } from './request-auth.js'

type Check = (user: PublicUser) => boolean

/**
 * A guard hook. A request whose user is known without waiting (a cached credential) and passes the check
 * goes on at once, through Fastify's `done`, with no promise; every other case (a credential to look up,
 * a refusal) takes the async path, which answers the same way it always did. Called without `done` (by
 * application code awaiting it), it always returns a promise, as its type says.
 */
function guard(name: string, check: Check): preHandlerAsyncHookHandler {
  const hook = function (
    this: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
    done?: HookHandlerDoneFunction,
  ): Promise<FastifyReply | undefined> | undefined {
    if (typeof done === 'function') {
      const auth = authenticatorOf(request.server)
      let user: PublicUser | null | undefined
      try {
        auth.checkOrigin(request)
        user = auth.peek(request)
      } catch {
        user = undefined // the async path answers the error
      }
      if (user && check(user)) {
        done()
        return undefined
      }
    }
    return handler.call(this, request, reply)
  }
  const handler = async function (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    const auth = authenticatorOf(request.server)
    try {
      auth.checkOrigin(request)
      const user = await auth.authenticate(request)
      if (!user) throw new UnauthenticatedError()
      if (!check(user)) {
        request.log.warn(
          { event: 'authz_fail', userId: user.id, guard: name, url: redactUrl(request.url) },
          'forbidden',
        )
        throw new ForbiddenError('a required role is missing')
      }
    } catch (err) {
      return sendProblem(reply, err)
    }
  }
  Object.defineProperty(hook, 'name', { value: name })
  return hook as preHandlerAsyncHookHandler
}

function roleNames(names: readonly string[], guardName: string): string[] {
  if (names.length === 0) throw new TypeError(`fastify-users: ${guardName}() needs at least one role name`)
  return names.map((n) => canonicalRoleName(n))
}

/**
 * Lets through any authenticated user (401 otherwise).
 *
 * @example
 * ```ts
 * app.get('/dashboard', { preHandler: requireUser() }, async (request) => request.user)
 * ```
 */
export function requireUser(): preHandlerAsyncHookHandler {
  return guard('requireUser', () => true)
}

/**
 * Lets through a user with ANY of the roles (403 otherwise, 401 without a credential).
 *
 * @example
 * ```ts
 * app.get('/reports', { preHandler: rolesAccepted('admin', 'auditor') }, handler)
 * ```
 */
export function rolesAccepted(...names: string[]): preHandlerAsyncHookHandler {
  const wanted = roleNames(names, 'rolesAccepted')
  return guard(`rolesAccepted(${wanted.join(',')})`, (user) =>
    user.roles.some((r) => wanted.includes(r.name)),
  )
}

/**
 * Lets through a user with ALL of the roles (403 otherwise, 401 without a credential).
 *
 * @example
 * ```ts
 * app.delete('/archive', { preHandler: rolesRequired('admin', 'archivist') }, handler)
 * ```
 */
export function rolesRequired(...names: string[]): preHandlerAsyncHookHandler {
  const wanted = roleNames(names, 'rolesRequired')
  return guard(`rolesRequired(${wanted.join(',')})`, (user) =>
    wanted.every((w) => user.roles.some((r) => r.name === w)),
  )
}

/** The route `config` keys the plugin turns into guards. */
export interface GuardRouteConfig {
  /** Any authenticated user. */
  requireUser?: boolean
  /** Any of these roles. */
  rolesAccepted?: string[]
  /** All of these roles. */
  rolesRequired?: string[]
}

/** The guards a route's `config` asks for. Throws `TypeError` at registration on a malformed config. */
export function guardsFromConfig(
  config: GuardRouteConfig | undefined,
  url: string,
): preHandlerAsyncHookHandler[] {
  if (!config) return []
  const guards: preHandlerAsyncHookHandler[] = []
  if (config.requireUser !== undefined && config.requireUser !== false) {
    if (config.requireUser !== true)
      throw new TypeError(`fastify-users: route ${url}: config.requireUser must be a boolean`)
    guards.push(requireUser())
  }
  for (const key of ['rolesAccepted', 'rolesRequired'] as const) {
    const value = config[key]
    if (value === undefined) continue
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw new TypeError(`fastify-users: route ${url}: config.${key} must be a list of role names`)
    }
    guards.push(key === 'rolesAccepted' ? rolesAccepted(...value) : rolesRequired(...value))
  }
  return guards
}
