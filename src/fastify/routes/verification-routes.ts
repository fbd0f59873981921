/**
 * `POST /verify` and `POST /verify/request`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { ValidationError } from '../../core/errors.js'
import type { VerificationHandlerConfig } from '../options.js'
import { ACCEPTED, type RouteContext } from '../route-context.js'

/** Registers the verification routes. */
export function verificationRoutes(
  app: FastifyInstance,
  context: RouteContext,
  config: VerificationHandlerConfig,
): void {
  const { service, schemas } = context
  const path = config.path ?? '/verify'
  const tags = config.tags ?? ['verification']
  app.post(
    path,
    {
      // A bodiless POST (the token in `?token=`) has no body to validate: treat it as an empty object.
      preValidation: async (request) => {
        request.body ??= {}
      },
      schema: {
        tags,
        summary: 'Verify an email address',
        description:
          'Redeems the token of a verification mail, in the JSON body (`{"token": ...}`) or as `?token=`. It does not log the user in: they log in as usual afterwards.',
        body: schemas.TokenBody,
        querystring: schemas.TokenQuery,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      const token =
        (request.body as { token?: string } | undefined)?.token ?? (request.query as { token?: string }).token
      if (!token) throw new ValidationError('token', 'token is required')
      return service.verify(token, request)
    },
  )
  app.post(
    `${path}/request`,
    {
      schema: {
        tags,
        summary: 'Send a new verification link',
        description: 'Always answers 202 with the same body, so it reveals nothing about the address.',
        body: schemas.EmailBody,
        response: { 202: schemas.Accepted },
      },
    },
    async (request, reply) => {
      await service.requestVerification((request.body as { email: string }).email)
      return reply.code(202).send({ message: ACCEPTED.verification })
    },
  )
}
