/**
 * `POST /users/me/email/confirm` and `POST /users/me/email/cancel`: the two links of an email change.
 * Public: the token names the user, so they work from a mail opened on another device, signed out.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { noContent, type RouteContext } from '../route-context.js'

/**
 * Registers the email-change routes under `config.path` (default `'/users/me/email'`).
 *
 * @example
 * ```ts
 * emailChangeRoutes(app, context, { path: '/users/me/email', tags: ['current user'] })
 * ```
 */
export function emailChangeRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: { path?: string; tags?: string[] },
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const path = config.path ?? '/users/me/email'
  const tags = config.tags ?? ['current user']

  app.post(
    `${path}/confirm`,
    {
      schema: {
        tags,
        operationId: 'confirmEmailChange',
        summary: 'Confirm a new email address',
        description:
          "Redeems the token mailed to the new address, with the account's password (a wrong one answers 400 `ERR_PASSWORD_REQUIRED` and counts as a failed login; past the limit, 429). The address becomes the account's email, verified; every session and token of the user ends, and the previous address is told. A link works once; a newer request or a cancellation kills it (400 `ERR_INVALID_TOKEN`); an address taken meanwhile answers 409.",
        body: schemas.EmailChangeConfirmBody,
        response: { 204: { type: 'null', description: 'Email changed; log in again with the new address.' } },
      },
    },
    async (request, reply) => {
      const { token, password } = request.body
      await service.confirmEmailChange(token, password)
      return noContent(reply)
    },
  )

  app.post(
    `${path}/cancel`,
    {
      schema: {
        tags,
        operationId: 'cancelEmailChange',
        summary: 'Cancel an email change',
        description:
          'Redeems the token mailed to the current address when a change was asked for: the pending address is dropped and every session and token of the user ends (whoever asked knew the password: choose a new one). Works once.',
        body: schemas.EmailChangeCancelBody,
        response: { 204: { type: 'null', description: 'Change cancelled; every session ended.' } },
      },
    },
    async (request, reply) => {
      await service.cancelEmailChange(request.body.token)
      return noContent(reply)
    },
  )
}
