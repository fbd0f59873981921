/**
 * `GET /users/me`, `PATCH /users/me` and `POST /users/me/password`; the email change's confirm and cancel
 * routes are in `email-change-routes.ts`, under the same path.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SensitiveChanges } from '../../core/sensitive-changes.js'
import type { BaseUser } from '../../core/user.js'
import { WrongPasswordError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import type { CurrentUserHandlerConfig } from '../options.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'
import { emailChangeRoutes } from './email-change-routes.js'

/** Registers the current-user routes. */
export function currentUserRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: CurrentUserHandlerConfig,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, schemas, security } = context
  const path = config.path ?? '/users/me'
  const tags = config.tags ?? ['current user']
  // A new password, email or username takes the current password or a recent step-up proof (core).
  const changes = new SensitiveChanges(service, context.twoFactor?.stepUp ?? null)
  const proofOf = (request: FastifyRequest, currentPassword: string | undefined) => ({
    currentPassword,
    credentialId: auth.credential(request)?.id ?? null,
  })

  app.get(
    path,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'getCurrentUser',
        summary: 'The current user',
        security,
        response: { 200: schemas.UserRef },
      },
    },
    (request) => currentUser(context, request),
  )

  app.patch(
    path,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'updateCurrentUser',
        summary: 'Update the current user',
        description:
          'Only self-editable fields: roles, `isActive`, `isVerified` and admin-only custom fields are refused with 400, and the password changes only through `POST /users/me/password`. A new `email` (and a new username, when users log in with one) needs a fresh proof: `currentPassword` (a wrong one answers 403 `ERR_WRONG_PASSWORD` and counts as a failed login), or without it a step-up proof of this credential within the step-up window (a login, or `POST /users/me/reauthenticate`); with neither, 403 `ERR_STEP_UP_REQUIRED` and nothing changes. A new email does not take effect at once: it is held as `pendingEmail`, a link that confirms it goes to the new address, and the current address (still the one to log in with) is told, with a link that cancels the change.',
        security,
        body: schemas.MePatch,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      const user = await currentUser(context, request)
      const { email, currentPassword, ...patch } = request.body
      const proof = proofOf(request, currentPassword)
      if (email === undefined) {
        return logWrongPassword(request, user.id, 'identifier_change', () =>
          changes.updateSelf(user.id, patch, proof),
        )
      }
      return logWrongPassword(request, user.id, 'email_change', () =>
        changes.requestEmailChange(user.id, email, proof, patch),
      )
    },
  )

  app.post(
    `${path}/password`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'changePassword',
        summary: 'Change the password',
        description:
          'Needs a fresh proof: `currentPassword` (a wrong one answers 403 `ERR_WRONG_PASSWORD` and counts as a failed login of the user; past the limit, 429 with `Retry-After`), or without it a step-up proof of this credential within the step-up window (a login, or `POST /users/me/reauthenticate`), which is how an account without a password sets one; with neither, 403 `ERR_STEP_UP_REQUIRED` and nothing changes. Every other credential of the user ends; on the cookie backends this client gets a fresh cookie, on the Bearer backend it logs in again.',
        security,
        body: schemas.ChangePasswordBody,
        response: { 204: { type: 'null', description: 'Password changed.' } },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      const { currentPassword, newPassword } = request.body
      const updated = await logWrongPassword(request, user.id, 'password_change', () =>
        changes.changePassword(user.id, newPassword, proofOf(request, currentPassword)),
      )
      // The client keeps working with the backend it came with; a Bearer client logs in again.
      const backend = auth.backendOf(request) ?? auth.backend
      if (backend.cookieName)
        auth.applyCredential(reply, await backend.login(updated, auth.credentials(request, backend)))
      return noContent(reply)
    },
  )

  emailChangeRoutes(instance, context, { path: `${path}/email`, tags })
}

/** Runs `action`, logging a wrong current password as a failed login before passing the error on. */
async function logWrongPassword<T>(
  request: FastifyRequest,
  userId: BaseUser['id'],
  via: string,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof WrongPasswordError)
      request.log.warn({ event: 'authn_login_fail', userId, via }, 'wrong current password')
    throw err
  }
}
