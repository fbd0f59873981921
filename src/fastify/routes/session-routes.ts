/**
 * The sessions a user can see and end: `GET /users/me/sessions`, `DELETE /users/me/sessions/:id`,
 * `POST /users/me/sessions/end-others` and `POST /users/me/logout-everywhere`; for admins,
 * `GET /users/sessions/:id`, `DELETE /users/sessions/:id` and `DELETE /users/sessions/:id/:sessionId`.
 * The admin paths sit beside `/users/roles` rather than under `/users/:id`: a `/users/:id/sessions` would
 * make `/users/roles/:id` ambiguous for OpenAPI tools (either could match `/users/roles/sessions`).
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { type Static, Type } from 'typebox'
import { currentSessionHandle, type SessionListItem } from '../../core/session-admin.js'
import type { Id } from '../../core/user.js'
import { requireUser } from '../guards.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'

// Built-in handles are `s_` (a session) or `r_` (a refresh-token family) and 22 base64url characters;
// other sources' handles fit the same alphabet.
const Handle = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description:
    'The public id of a session: `s_…` for a login session, `r_…` for a refresh-token family, never the credential itself.',
})
const Session = Type.Object(
  {
    id: Handle,
    kind: Type.Union([Type.Literal('session'), Type.Literal('refresh')], {
      description: '`session`: a login session; `refresh`: a refresh-token family of the JWT backends.',
    }),
    current: Type.Boolean({ description: 'Whether this request was made with this session.' }),
    createdAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.String({ format: 'date-time', description: 'Updated at most once a minute.' }),
    expiresAt: Type.String({ format: 'date-time' }),
    ip: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    device: Type.Object(
      { browser: Type.Union([Type.String(), Type.Null()]), os: Type.Union([Type.String(), Type.Null()]) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
const SessionList = Type.Object({ sessions: Type.Array(Session) }, { additionalProperties: false })
const Ended = Type.Object(
  { ended: Type.Integer({ minimum: 0, description: 'How many sessions ended.' }) },
  { additionalProperties: false },
)

function toJson(items: SessionListItem[]): Static<typeof SessionList> {
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    sessions: items.map((s) => ({
      ...s,
      createdAt: iso(s.createdAt),
      lastSeenAt: iso(s.lastSeenAt),
      expiresAt: iso(s.expiresAt),
    })),
  }
}

/** Clears the request's cookie when the credential it came with has just ended. */
function clearIfCurrent(context: RouteContext, request: FastifyRequest, reply: FastifyReply): void {
  const backend = context.auth.backendOf(request)
  if (backend?.cookieName) context.auth.clearCredential(reply, backend)
}

/** Registers the current user's session routes under the current-user path (default `/users/me`). */
export function currentUserSessionRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: { path: string; tags: string[] },
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, security } = context
  const { path, tags } = config
  // The request's credential: a session, or an access token and its refresh-token family.
  const credentialOf = (request: FastifyRequest) => auth.credential(request) ?? null

  app.get(
    `${path}/sessions`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'listSessions',
        summary: 'Your sessions',
        description:
          "The signed-in devices of the current user, the most recently used first, with when each began and was last used, its address and browser, and which one this request uses. On the JWT backends each login with refresh tokens is one item of kind `refresh` (its refresh-token family), current when this request's access token belongs to it; access tokens without refresh tokens are stateless and not listed.",
        security,
        response: { 200: SessionList },
      },
    },
    async (request) => {
      const user = await currentUser(context, request)
      return toJson(await service.sessions.list(user.id, credentialOf(request)))
    },
  )

  app.delete(
    `${path}/sessions/:id`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'endSession',
        summary: 'End one of your sessions',
        description:
          'Logs that device out: its cookie or token is refused from the next request on. For a refresh-token family (`r_…`), its refresh token and every access token of that login are refused. An id that is not one of your sessions answers 404, whoever it belongs to. Ending the session this request uses is a logout (its cookie is cleared).',
        security,
        params: Type.Object({ id: Handle }, { additionalProperties: false }),
        response: { 204: { type: 'null', description: 'Session ended.' } },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      const current = currentSessionHandle(credentialOf(request))
      await service.sessions.end(user.id, request.params.id, user.id)
      if (current === request.params.id) clearIfCurrent(context, request, reply)
      return noContent(reply)
    },
  )

  app.post(
    `${path}/sessions/end-others`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'endOtherSessions',
        summary: 'Log out everywhere else',
        description:
          'Ends every session of the current user except the one this request uses: other login sessions, and other refresh-token families with their access tokens. Access tokens issued without refresh tokens are stateless and stay valid until they expire (at most their lifetime); to end those too, log out everywhere.',
        security,
        response: { 200: Ended },
      },
    },
    async (request) => {
      const user = await currentUser(context, request)
      return { ended: await service.sessions.endOthers(user.id, credentialOf(request)) }
    },
  )

  app.post(
    `${path}/logout-everywhere`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'logoutEverywhere',
        summary: 'Log out everywhere',
        description:
          "Ends every credential of the current user, of every kind and on every device, this one included: sessions, refresh tokens and JWT access tokens (the user's credential version moves). Log in again afterwards.",
        security,
        response: { 204: { type: 'null', description: 'Every credential ended.' } },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      await service.revokeCredentials(user.id)
      clearIfCurrent(context, request, reply)
      return noContent(reply)
    },
  )
}

/** Registers the admin session routes under the user-management prefix (default `/users/sessions`). */
export function adminSessionRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: { prefix: string; tags: string[] },
  guards: preHandlerAsyncHookHandler[],
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const { prefix, tags } = config
  const security = guards.length > 0 ? context.security : []
  // Guards before validation, as on the other admin routes: a stranger learns nothing of the input.
  const preValidation = guards
  const UserParams = Type.Object({ id: schemas.Id }, { additionalProperties: false })
  const userOf = async (id: unknown): Promise<Id> => (await service.getUser(id as Id)).id

  app.get(
    `${prefix}/sessions/:id`,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'listUserSessions',
        summary: "A user's sessions",
        description: 'The same list as `GET /users/me/sessions`, for any user. 404 for an unknown user.',
        security,
        params: UserParams,
        response: { 200: SessionList },
      },
    },
    async (request) => {
      const userId = await userOf(request.params.id)
      return toJson(await service.sessions.list(userId, context.auth.credential(request) ?? null))
    },
  )

  app.delete(
    `${prefix}/sessions/:id`,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'endUserSessions',
        summary: "End all of a user's sessions",
        description:
          "Logs the user out everywhere: every credential of every kind ends, JWT access tokens included (the user's credential version moves). The account stays as it is; they can log in again.",
        security,
        params: UserParams,
        response: { 204: { type: 'null', description: 'Every credential of the user ended.' } },
      },
    },
    async (request, reply) => {
      const userId = await userOf(request.params.id)
      await service.revokeCredentials(userId)
      request.log.info(
        { event: 'authn_token_revoked', userId, actorId: request.user?.id ?? null, scope: 'all' },
        'sessions ended by an admin',
      )
      return noContent(reply)
    },
  )

  app.delete(
    `${prefix}/sessions/:id/:sessionId`,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'endUserSession',
        summary: "End one of a user's sessions",
        description: "404 for an unknown user, or a session id that is not one of this user's.",
        security,
        params: Type.Object({ id: schemas.Id, sessionId: Handle }, { additionalProperties: false }),
        response: { 204: { type: 'null', description: 'Session ended.' } },
      },
    },
    async (request, reply) => {
      const userId = await userOf(request.params.id)
      const actor = request.user?.id ?? null
      await service.sessions.end(userId, request.params.sessionId, actor)
      return noContent(reply)
    },
  )
}
