/**
 * `POST /login` and `POST /logout`, for each configured backend.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { AuthBackend } from '../../auth/auth-backend.js'
import { JwtBackend } from '../../auth/jwt-backend.js'
import { InvalidCredentialsError, UnauthenticatedError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import { backendOperationId } from '../openapi-responses.js'
import type { AuthHandlerConfig } from '../options.js'
import { noContent, type RouteContext } from '../route-context.js'
import { refreshPathOf, setRefreshCookie } from './refresh-routes.js'
import { MfaRequiredResponse, secondStepRoutes } from './second-step-routes.js'
import { issueCredential, secondStepOf } from './two-factor-routes.js'

/** Where one backend's login and logout routes are. */
interface BackendPaths {
  login: string
  logout: string
}

/**
 * Registers the login and logout routes of every backend: the first backend's at the group's paths
 * (`/login`, `/logout`), each other's at `/auth/<name>/login` and `/auth/<name>/logout`.
 */
export function authRoutes(app: FastifyInstance, context: RouteContext, config: AuthHandlerConfig): void {
  for (const [i, backend] of context.auth.backends.entries()) {
    const paths =
      i === 0
        ? { login: config.loginPath ?? '/login', logout: config.logoutPath ?? '/logout' }
        : { login: `/auth/${backend.name}/login`, logout: `/auth/${backend.name}/logout` }
    backendRoutes(app, context, config, backend, paths, i > 0, `${app.prefix}${refreshPathOf(i, backend)}`)
  }
}

function backendRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: AuthHandlerConfig,
  backend: AuthBackend,
  paths: BackendPaths,
  named: boolean,
  refreshCookiePath: string,
): void {
  const refreshCookie = backend instanceof JwtBackend ? backend.refreshCookieName : null
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, schemas } = context
  const tags = config.tags ?? ['auth']
  const issuesToken = backend.cookieName === null
  const via = named ? ` This is the \`${backend.name}\` backend's login.` : ''
  const credentialResponse = issuesToken ? schemas.LoginJwtResponse : schemas.UserRef
  // With two-factor on, a user with a second factor gets 202 and a challenge instead of a credential.
  const loginResponse = context.twoFactor
    ? { 200: credentialResponse, 202: MfaRequiredResponse }
    : { 200: credentialResponse }

  app.post(
    paths.login,
    {
      // Counted with the first backend's login: one budget per address, whichever backend is asked.
      config: named ? { rateLimitGroup: 'login' } : {},
      schema: {
        tags,
        operationId: named ? backendOperationId('login', backend.name) : 'login',
        summary: named ? `Log in (${backend.name})` : 'Log in',
        description: `Checks the password and issues a credential: a session cookie, a JWT in a cookie, or a Bearer token in the body, depending on the backend.${via} Unknown user and wrong password answer the same 401; an unverified or inactive account answers 403, only after a correct password. After 5 consecutive failures for an identifier, known or not (the \`loginThrottle\` defaults), further attempts answer 429 with \`Retry-After\` until a delay that doubles from 1 s up to 15 min has passed.`,
        body: schemas.LoginBody,
        response: loginResponse,
      },
    },
    async (request, reply) => {
      const user = await service.authenticate(request.body, request)
      if (!user) throw new InvalidCredentialsError()
      // A user with a second factor gets a challenge bound to this backend instead of a credential; only
      // this backend's second step (second-step-routes.ts) takes it.
      const step = await secondStepOf(context, backend, user)
      if (step) return reply.code(202).send({ mfaRequired: true, ...step })
      return issueCredential(context, backend, user, 'password', request, reply)
    },
  )
  secondStepRoutes(instance, context, backend, paths.login, named, tags)

  app.post(
    paths.logout,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: named ? backendOperationId('logout', backend.name) : 'logout',
        summary: named ? `Log out (${backend.name})` : 'Log out',
        description: `Ends the credential of ${named ? `the \`${backend.name}\`` : 'this'} backend that this request carries: the same cookie or token is refused afterwards. Credentials of other backends stay valid.`,
        security: context.security,
        response: { 204: { type: 'null', description: 'Logged out.' } },
      },
    },
    async (request, reply) => {
      // A request may carry the credentials of two backends (a cookie and a Bearer token); this route
      // ends its own backend's, and answers 401 when the request has none.
      const credential =
        auth.backendOf(request) === backend
          ? auth.credential(request)
          : ((await backend.authenticate(auth.credentials(request, backend)))?.credential ?? null)
      if (!credential) throw new UnauthenticatedError()
      await backend.logout(credential)
      auth.clearCredential(reply, backend)
      if (refreshCookie)
        setRefreshCookie(reply, null, refreshCookie, refreshCookiePath, context.resolved.cookieSecure)
      request.log.info(
        { event: 'session_logout', userId: request.user?.id, backend: backend.name },
        'logged out',
      )
      return noContent(reply)
    },
  )
}
