/**
 * Passkeys over HTTP: `POST /login/passkey/options` and `POST /login/passkey` (usernameless login), and
 * under `/users/me/passkeys` the logged-in user's passkeys (create, list, rename, remove).
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Passkeys } from '../../core/passkeys.js'
import type { BaseUser } from '../../core/user.js'
import { UnauthenticatedError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'
import { issueCredential } from './two-factor-routes.js'

const Options = Type.Object({}, { additionalProperties: true, description: 'WebAuthn options, as JSON.' })

import { Credential } from './passkey-schemas.js'

export { Credential }

const Passkey = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    transports: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
)
const Name = Type.String({ minLength: 1, maxLength: 100 })
/** The fresh proof adding or removing a passkey may carry: the current password (else a step-up proof). */
const ProofBody = Type.Object(
  { currentPassword: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
)
/** A request sent without a body is read as an empty one (the proof is then the step-up window's). */
const emptyBody = async (request: FastifyRequest): Promise<void> => {
  request.body ??= {}
}
const PasskeyParams = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
)

/**
 * Registers the passkey routes.
 *
 * @example
 * ```ts
 * if (passkeys) passkeyRoutes(routes, context, passkeys)
 * ```
 */
export function passkeyRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  passkeys: Passkeys<BaseUser>,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, schemas, security } = context
  const backend = auth.backends[0]
  if (!backend) throw new TypeError('fastify-users: passkeys need an auth backend')
  const issuesToken = backend.cookieName === null
  const tags = ['passkeys']
  const me = '/users/me/passkeys'
  // The full user (with its password hash) for the step-up; the request's user is the public view.
  const owner = async (request: Parameters<typeof currentUser>[1]) =>
    service.getUser((await currentUser(context, request)).id)

  app.post(
    '/login/passkey/options',
    {
      config: { rateLimitGroup: 'login' },
      schema: {
        tags,
        operationId: 'passkeyLoginOptions',
        summary: 'Start a passkey login',
        description:
          'Answers the options for `navigator.credentials.get()` with a fresh challenge, single-use and valid for 5 minutes. No credential is listed: the browser offers the passkeys it holds for this site.',
        response: { 200: Options },
      },
    },
    async () => passkeys.loginOptions(),
  )

  app.post(
    '/login/passkey',
    {
      config: { rateLimitGroup: 'login' },
      schema: {
        tags,
        operationId: 'passkeyLogin',
        summary: 'Log in with a passkey',
        description:
          "Verifies the assertion of `navigator.credentials.get()` against the stored passkey and issues the first backend's credential, as `POST /login` does (with its refresh token or refresh cookie). A challenge works once; a signature counter that does not move forward is refused (unless the authenticator does not count). Any failure answers the same 401; an inactive or unverified account answers 403.",
        body: Credential,
        response: { 200: issuesToken ? schemas.LoginJwtResponse : schemas.UserRef },
      },
    },
    async (request, reply) => {
      const user = await passkeys.login(request.body, request)
      // As a password login: the passkey is a fresh proof of identity for this credential (the step-up
      // window of sensitive changes, with `routes.twoFactor` on).
      return issueCredential(context, backend, user, 'passkey', request, reply)
    },
  )

  app.post(
    `${me}/options`,
    {
      // Under a recent step-up proof the client sends no body at all: it is read as an empty one.
      preValidation: [requireUser(), emptyBody],
      schema: {
        tags,
        operationId: 'passkeyRegistrationOptions',
        summary: 'Start creating a passkey',
        description:
          "Needs a fresh proof, as a new passkey logs in on its own: `currentPassword` (a wrong one answers 403 `ERR_WRONG_PASSWORD` and counts as a failed login), or without it a step-up proof of this credential within the step-up window (a login, or `POST /users/me/reauthenticate`); with neither, 403 `ERR_STEP_UP_REQUIRED` and no challenge is made. Answers the options for `navigator.credentials.create()`: a discoverable credential, the user's passkeys excluded, a fresh challenge bound to this user, single-use and valid for 5 minutes.",
        security,
        body: ProofBody,
        response: { 200: Options },
      },
    },
    async (request) =>
      passkeys.registrationOptions(
        await owner(request),
        { currentPassword: request.body.currentPassword },
        request,
      ),
  )

  app.post(
    me,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'createPasskey',
        summary: 'Add a passkey',
        description:
          "Verifies the attestation of `navigator.credentials.create()` (origin, rpId, this user's unused challenge) and stores the passkey. A response that does not verify answers 400; a passkey stored already, 409. The account is told by mail.",
        security,
        body: Type.Object(
          { credential: Credential, name: Type.Optional(Name) },
          { additionalProperties: false },
        ),
        response: { 201: Passkey },
      },
    },
    async (request, reply) => {
      const created = await passkeys.register(
        await owner(request),
        request.body.credential,
        request.body.name,
      )
      return reply.code(201).send(created)
    },
  )

  app.get(
    me,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'listPasskeys',
        summary: 'Your passkeys',
        security,
        response: { 200: Type.Array(Passkey) },
      },
    },
    async (request) => passkeys.list(await owner(request)),
  )

  app.patch(
    `${me}/:id`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'renamePasskey',
        summary: 'Rename a passkey',
        description: "Another user's passkey, like an unknown one, answers 404.",
        security,
        params: PasskeyParams,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: Passkey },
      },
    },
    async (request) => passkeys.rename(await owner(request), request.params.id, request.body.name),
  )

  app.delete(
    `${me}/:id`,
    {
      // A removal under a recent step-up proof sends no body at all: it is read as an empty one.
      preValidation: [requireUser(), emptyBody],
      schema: {
        tags,
        operationId: 'deletePasskey',
        summary: 'Remove a passkey',
        description:
          "Needs a fresh proof: `currentPassword` (a wrong one answers 403 `ERR_WRONG_PASSWORD` and counts as a failed login), or without it a step-up proof of this credential within the step-up window (a login, or `POST /users/me/reauthenticate`); with neither, 403 `ERR_STEP_UP_REQUIRED` and nothing changes. Another user's passkey, like an unknown one, answers 404. The last passkey of an account with no password and no linked provider cannot be removed (409 `ERR_LAST_LOGIN_METHOD`). The account is told by mail.",
        security,
        params: PasskeyParams,
        body: ProofBody,
        response: { 204: { type: 'null', description: 'Removed.' } },
      },
    },
    async (request, reply) => {
      const user = await owner(request)
      if (!user) throw new UnauthenticatedError()
      await passkeys.remove(
        user,
        request.params.id,
        { currentPassword: request.body.currentPassword },
        request,
      )
      return noContent(reply)
    },
  )
}
