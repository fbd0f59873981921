/**
 * `POST /register`.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { UserExistsError } from '../../kernel/errors.js'
import type { RegisterHandlerConfig } from '../options.js'
import { ACCEPTED, type RouteContext } from '../route-context.js'

/** Registers the registration route. */
export function registerRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: RegisterHandlerConfig,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const verificationRequired = service.requireVerificationOnRegistration
  app.post(
    config.path ?? '/register',
    {
      schema: {
        tags: config.tags ?? ['auth'],
        operationId: 'register',
        summary: 'Register',
        description: verificationRequired
          ? 'Creates an account and mails a verification link. Answers 202 with the same body whether the address is new or taken (the owner of a taken address is mailed a notice instead), so it reveals nothing. A taken username (when users log in by username) answers 409.'
          : 'Creates an account, verified at once (verification is off). A taken address answers 409.',
        body: schemas.RegisterBody,
        response: verificationRequired ? { 202: schemas.Accepted } : { 201: schemas.UserRef },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (!verificationRequired) {
        const user = await service.register(body, request)
        return reply.code(201).send(user)
      }
      try {
        await service.register(body, request)
      } catch (err) {
        // Only a taken address is masked (its owner was mailed a notice); a taken username is public
        // knowledge of the login form anyway, and is refused plainly.
        if (!(err instanceof UserExistsError) || err.field !== 'email') throw err
      }
      return reply.code(202).send({ message: ACCEPTED.register })
    },
  )
}
