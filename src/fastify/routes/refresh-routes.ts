/**
 * `POST /refresh`: a JWT backend's refresh token for a new access token and a new refresh token.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { Type } from 'typebox'
import type { AuthBackend, IssuedCredential } from '../../auth/auth-backend.js'
import { JwtBackend } from '../../auth/jwt-backend.js'
import { withoutSecrets } from '../../core/public-user.js'
import { UnauthenticatedError } from '../../kernel/errors.js'
import { backendOperationId } from '../openapi-responses.js'
import type { AuthHandlerConfig } from '../options.js'
import type { RouteContext } from '../route-context.js'

/**
 * The refresh path of the backend at `index`: `/refresh` for the first, `/auth/<name>/refresh` for others
 * (beside their login and logout).
 *
 * @example
 * ```ts
 * refreshPathOf(0, backend) // '/refresh'
 * ```
 */
export function refreshPathOf(index: number, backend: AuthBackend): string {
  return index === 0 ? '/refresh' : `/auth/${backend.name}/refresh`
}

/**
 * Sets or clears a JWT cookie backend's refresh cookie: `HttpOnly`, `Secure` when cookies are,
 * `SameSite=Strict` and scoped to the refresh path (under the plugin's prefix), so the browser sends it to
 * that route only, never with an ordinary request.
 *
 * @example
 * ```ts
 * setRefreshCookie(reply, issued, '/api/refresh', true)
 * ```
 */
export function setRefreshCookie(
  reply: FastifyReply,
  issued: IssuedCredential | null,
  name: string,
  path: string,
  secure: boolean,
): void {
  const options = { httpOnly: true, secure, sameSite: 'strict' as const, path }
  if (issued?.refreshCookie) {
    reply.setCookie(name, issued.refreshCookie.value, {
      ...options,
      maxAge: issued.refreshCookie.maxAgeSeconds,
    })
  } else {
    reply.clearCookie(name, options)
  }
}

const RefreshBody = Type.Object(
  {
    refreshToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'The refresh token (Bearer transport).' }),
    ),
  },
  { additionalProperties: false },
)

/** Registers the refresh route of every JWT backend that issues refresh tokens. */
export function refreshRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: AuthHandlerConfig,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { auth, schemas, resolved } = context
  const tags = config.tags ?? ['auth']
  for (const [i, backend] of auth.backends.entries()) {
    if (!(backend instanceof JwtBackend) || !backend.refreshTokens) continue
    const named = i > 0
    const path = refreshPathOf(i, backend)
    const cookieName = backend.refreshCookieName
    const cookiePath = `${instance.prefix}${path}`
    app.post(
      path,
      {
        // Counted with logins: a refresh is a login by other means.
        config: { rateLimitGroup: 'login' },
        // The cookie transport's refresh needs no body: a bodiless POST is an empty object.
        preValidation: async (request) => {
          request.body ??= {}
        },
        schema: {
          tags,
          operationId: named ? backendOperationId('refresh', backend.name) : 'refresh',
          summary: named ? `Refresh the access token (${backend.name})` : 'Refresh the access token',
          description: cookieName
            ? `Reads the refresh token from its own cookie (\`HttpOnly\`, \`SameSite=Strict\`, scoped to this path) and answers with a new access-token cookie and a new refresh cookie. Each refresh token works once: presenting one again ends its whole login on every device and mails the user. Refused tokens answer 401 and clear the refresh cookie.`
            : 'Exchanges the refresh token from the login answer (`refreshToken` in the body) for a new access token and a new refresh token. Each refresh token works once: presenting one again ends its whole login and mails the user. Refused tokens answer 401.',
          body: RefreshBody,
          response: { 200: cookieName ? schemas.UserRef : schemas.LoginJwtResponse },
        },
      },
      async (request, reply) => {
        const presented = cookieName ? request.cookies?.[cookieName] : request.body?.refreshToken
        const result = await backend.refresh(presented, auth.credentials(request, backend))
        if (cookieName)
          setRefreshCookie(reply, result?.issued ?? null, cookieName, cookiePath, resolved.cookieSecure)
        if (!result) throw new UnauthenticatedError('the refresh token is invalid, expired or already used')
        auth.applyCredential(reply, result.issued)
        request.log.info(
          { event: 'token_refreshed', userId: result.user.id, backend: backend.name },
          'refreshed',
        )
        const user = withoutSecrets(result.user)
        if (result.issued.accessToken) {
          return {
            ...user,
            accessToken: result.issued.accessToken,
            tokenType: 'Bearer' as const,
            expiresIn: result.issued.expiresIn,
            refreshToken: result.issued.refreshToken,
            refreshExpiresIn: result.issued.refreshExpiresIn,
          }
        }
        return user
      },
    )
  }
}
