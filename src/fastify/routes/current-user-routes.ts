/**
 * `GET /users/me`, `PATCH /users/me` and `POST /users/me/password`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { WrongPasswordError } from '../../core/errors.js'
import type { BaseUser } from '../../core/user.js'
import { requireUser } from '../guards.js'
import type { CurrentUserHandlerConfig } from '../options.js'
import { currentUser, type RouteContext } from '../route-context.js'

/** Registers the current-user routes. */
export function currentUserRoutes(
  app: FastifyInstance,
  context: RouteContext,
  config: CurrentUserHandlerConfig,
): void {
  const { service, auth, schemas, security } = context
  const path = config.path ?? '/users/me'
  const tags = config.tags ?? ['current user']

  app.get(
    path,
    {
      preValidation: requireUser(),
      schema: { tags, summary: 'The current user', security, response: { 200: schemas.UserRef } },
    },
    async (request) => currentUser(context, request),
  )

  app.patch(
    path,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        summary: 'Update the current user',
        description:
          'Only self-editable fields: roles, `isActive`, `isVerified` and admin-only custom fields are refused with 400, and the password changes only through `POST /users/me/password`. A new email resets `isVerified` and a verification link goes to the new address (the old one is told); until it is verified, the account cannot be used.',
        security,
        body: schemas.MePatch,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      const user = await currentUser(context, request)
      const updated = await service.updateUser(user.id, request.body as Partial<BaseUser>)
      if (updated.email !== user.email && !updated.isVerified) await service.initiateVerification(updated)
      return updated
    },
  )

  app.post(
    `${path}/password`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        summary: 'Change the password',
        description:
          'Needs the current password (a wrong one answers 403 and counts as a failed login of the user; past the limit, 429 with `Retry-After`). Every other credential of the user ends; on the cookie backends this client gets a fresh cookie, on the Bearer backend it logs in again.',
        security,
        body: schemas.ChangePasswordBody,
        response: { 204: { type: 'null', description: 'Password changed.' } },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      const { currentPassword, newPassword } = request.body as {
        currentPassword: string
        newPassword: string
      }
      let updated: BaseUser
      try {
        updated = await service.changePassword(user.id, currentPassword, newPassword)
      } catch (err) {
        if (err instanceof WrongPasswordError)
          request.log.warn(
            { event: 'authn_login_fail', userId: user.id, via: 'password_change' },
            'wrong current password',
          )
        throw err
      }
      if (auth.backend.cookieName)
        auth.applyCredential(reply, await auth.backend.login(updated, auth.credentials(request)))
      return reply.code(204).send()
    },
  )
}
