/**
 * What every route module receives from the plugin: the service, the authenticator, the schemas and the
 * resolved options. Route modules hold no state of their own.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Passkeys } from '../core/passkeys.js'
import type { PublicUser } from '../core/public-user.js'
import type { TwoFactor } from '../core/two-factor.js'
import type { BaseUser, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import { UnauthenticatedError } from '../kernel/errors.js'
import type { FlatOptions } from './normalize-options.js'
import type { ResolvedOptions } from './options.js'
import type { RequestAuthenticator } from './request-auth.js'
import type { Schemas } from './schemas.js'

/** The plugin's state handed to each route module. */
export interface RouteContext {
  service: BaseUserService<BaseUser, Role, FastifyRequest>
  auth: RequestAuthenticator
  schemas: Schemas
  /** The options in their flat form. */
  options: FlatOptions
  resolved: ResolvedOptions
  /** Two-factor authentication and step-up, when `routes.twoFactor` is on; else `null`. */
  twoFactor: TwoFactor<BaseUser> | null
  /** OpenAPI `security` of routes that need a credential. */
  security: Array<Record<string, string[]>>
  /** The passkey feature, when the `passkeys` option is set. */
  passkeys?: Passkeys<BaseUser> | null
}

/**
 * The authenticated user of a request, or 401. For handlers behind `requireUser()`. Synchronous when the
 * user is already known (the guard authenticated the request): a handler that returns it makes no promise.
 */
export function currentUser(
  context: RouteContext,
  request: FastifyRequest,
): PublicUser | Promise<PublicUser> {
  const known = context.auth.peek(request)
  return known === undefined
    ? context.auth.authenticate(request).then(orUnauthenticated)
    : orUnauthenticated(known)
}

function orUnauthenticated(user: PublicUser | null): PublicUser {
  if (!user) throw new UnauthenticatedError()
  return user
}

/**
 * Answers 204 with no body. The routes' reply types come from their response schemas, where a 204 is
 * `{ type: 'null' }`; sending `null` would run the serializer for a body that is never sent.
 *
 * @example
 * ```ts
 * app.post('/logout', { schema: { response: { 204: { type: 'null' } } } }, async (_request, reply) =>
 *   noContent(reply),
 * )
 * ```
 */
export function noContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).send()
}

/** The answer of the routes that must not reveal whether an address is known. */
export const ACCEPTED = {
  register: 'If this address can be registered, a message with the next step has been sent to it.',
  verification:
    'If this address belongs to an account waiting for verification, a new link has been sent to it.',
  passwordReset: 'If this address belongs to an account, a link to reset its password has been sent to it.',
}
