/**
 * `POST /forgot-password` and `POST /reset-password`.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { PasswordResetHandlerConfig } from '../options.js'
import { ACCEPTED, noContent, type RouteContext } from '../route-context.js'

/** Registers the password reset routes. */
export function passwordResetRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: PasswordResetHandlerConfig,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const tags = config.tags ?? ['password reset']
  app.post(
    config.forgotPath ?? '/forgot-password',
    {
      schema: {
        tags,
        operationId: 'forgotPassword',
        summary: 'Ask for a password reset link',
        description:
          'Answers 202 with the same body for every well-formed address, so it reveals nothing about accounts; a malformed address answers 400 `ERR_VALIDATION`, as on `/register`.',
        body: schemas.EmailBody,
        response: { 202: schemas.Accepted },
      },
    },
    async (request, reply) => {
      await service.initiatePasswordReset(request.body.email)
      return reply.code(202).send({ message: ACCEPTED.passwordReset })
    },
  )
  app.post(
    config.resetPath ?? '/reset-password',
    {
      schema: {
        tags,
        operationId: 'resetPassword',
        summary: 'Set a new password with a reset token',
        description:
          'The token works once, and not after any other password change. Every session and token of the user ends; the user is not logged in.',
        body: schemas.ResetBody,
        response: { 204: { type: 'null', description: 'Password changed.' } },
      },
    },
    async (request, reply) => {
      const { token, password } = request.body
      await service.resetPassword(token, password)
      return noContent(reply)
    },
  )
}
