/**
 * `POST /login` and `POST /logout`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { AuthenticationData } from '../../core/user-service.js'
import { InvalidCredentialsError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import type { AuthHandlerConfig } from '../options.js'
import type { RouteContext } from '../route-context.js'

/** Registers the login and logout routes. */
export function authRoutes(app: FastifyInstance, context: RouteContext, config: AuthHandlerConfig): void {
  const { service, auth, schemas } = context
  const tags = config.tags ?? ['auth']
  const isJwt = auth.backend.name === 'jwt'

  app.post(
    config.loginPath ?? '/login',
    {
      schema: {
        tags,
        summary: 'Log in',
        description:
          'Checks the password and issues a credential: a session cookie, a JWT in a cookie, or a Bearer token in the body, depending on the backend. Unknown user and wrong password answer the same 401; an unverified or inactive account answers 403, only after a correct password. After 5 consecutive failures for an identifier, known or not (the `loginThrottle` defaults), further attempts answer 429 with `Retry-After` until a delay that doubles from 1 s up to 15 min has passed.',
        body: schemas.LoginBody,
        response: { 200: isJwt ? schemas.LoginJwtResponse : schemas.UserRef },
      },
    },
    async (request, reply) => {
      const user = await service.authenticate(request.body as AuthenticationData, request)
      if (!user) throw new InvalidCredentialsError()
      const issued = await auth.backend.login(user, auth.credentials(request))
      auth.applyCredential(reply, issued)
      request.log.info({ event: 'session_created', userId: user.id, backend: auth.backend.name }, 'logged in')
      if (issued.accessToken) {
        return { ...user, accessToken: issued.accessToken, tokenType: 'Bearer', expiresIn: issued.expiresIn }
      }
      return user
    },
  )

  app.post(
    config.logoutPath ?? '/logout',
    {
      preValidation: requireUser(),
      schema: {
        tags,
        summary: 'Log out',
        description:
          'Ends the credential this request carries: the same cookie or token is refused afterwards.',
        security: context.security,
        response: { 204: { type: 'null', description: 'Logged out.' } },
      },
    },
    async (request, reply) => {
      const credential = auth.credential(request)
      if (credential) await auth.backend.logout(credential)
      auth.clearCredential(reply)
      request.log.info({ event: 'session_logout', userId: request.user?.id }, 'logged out')
      return reply.code(204).send()
    },
  )
}
