/**
 * `POST /verify` and `POST /verify/request`.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { ValidationError } from '../../kernel/errors.js'
import type { VerificationHandlerConfig } from '../options.js'
import { ACCEPTED, type RouteContext } from '../route-context.js'

/** Registers the verification routes. */
export function verificationRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: VerificationHandlerConfig,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
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
        operationId: 'verify',
        summary: 'Verify an email address',
        description:
          'Redeems the token of a verification mail, in the JSON body (`{"token": ...}`) or as `?token=`, with the account\'s `password`: a link alone never verifies an account, so that whoever opens it cannot make a password they did not choose usable. A missing or wrong password answers 400 `ERR_PASSWORD_REQUIRED` (a wrong one counts as a failed login; past the limit, 429); someone who did not choose the password uses the password reset instead, which verifies the address too. It does not log the user in: they log in as usual afterwards.',
        body: schemas.VerifyBody,
        querystring: schemas.TokenQuery,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      // Always an object here: the preValidation hook above gives a bodiless POST an empty one.
      const { body } = request
      const token = body.token ?? request.query.token
      if (!token) throw new ValidationError('token', 'token is required')
      return service.verify(token, request, { password: body.password })
    },
  )
  app.post(
    `${path}/request`,
    {
      schema: {
        tags,
        operationId: 'requestVerification',
        summary: 'Send a new verification link',
        description:
          'Answers 202 with the same body for every well-formed address, so it reveals nothing about accounts; a malformed address answers 400 `ERR_VALIDATION`, as on `/register`.',
        body: schemas.EmailBody,
        response: { 202: schemas.Accepted },
      },
    },
    async (request, reply) => {
      await service.requestVerification(request.body.email)
      return reply.code(202).send({ message: ACCEPTED.verification })
    },
  )
}
