/**
 * The admin routes on users: `GET /users`, `GET`/`PATCH`/`DELETE /users/:id`.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify'
import type { UserListQuery } from '../../core/repositories.js'
import type { UserManagementHandlerConfig } from '../options.js'
import type { RouteContext } from '../route-context.js'

/** Registers the user management routes behind the given guards. */
export function userManagementRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: UserManagementHandlerConfig,
  guards: preHandlerAsyncHookHandler[],
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const prefix = config.pathPrefix ?? '/users'
  const tags = config.tags ?? ['users']
  const security = guards.length > 0 ? context.security : []
  // Guards run before validation: without the right credential, no input is looked at (401/403, never a
  // validation error that describes an admin route to a stranger).
  const preValidation = guards

  app.get(
    prefix,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'listUsers',
        summary: 'List users',
        description: `Pages by \`limit\` (at most ${context.resolved.maxPageSize}) with \`offset\`, or with the \`cursor\` of the previous page; filters by email substring, status and role.`,
        security,
        querystring: schemas.ListQuery,
        response: { 200: schemas.UserPage },
      },
    },
    async (request) => {
      const q = request.query
      const query: Partial<UserListQuery> = {
        limit: q.limit ?? 20,
        offset: q.offset ?? 0,
        cursor: q.cursor,
        filters: { email: q.email, isActive: q.isActive, isVerified: q.isVerified, role: q.role },
        orderBy: { field: q.orderBy ?? 'createdAt', direction: q.order ?? 'asc' },
      }
      return service.listUsers(query)
    },
  )

  const byId = `${prefix}/:id`
  app.get(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'getUser',
        summary: 'Get a user',
        security,
        params: schemas.IdParams,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => service.getUser(request.params.id),
  )

  app.patch(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'updateUser',
        summary: 'Update a user',
        description:
          'Deactivating a user or setting their password ends every credential of the user at once. A new email takes effect at once (admins are trusted; a pending change the user asked for is dropped), ends every credential, resets `isVerified` unless the body sets it, and a verification link goes to the new address (the old one is told).',
        security,
        params: schemas.IdParams,
        body: schemas.AdminUserPatch,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      const id = request.params.id
      // The actor is passed so that an admin cannot deactivate themselves (ERR_SELF_LOCKOUT).
      const updated = await service.updateUser(id, request.body, {
        actorId: request.user?.id ?? null,
      })
      request.log.info(
        { event: 'authz_admin', actor: request.user?.id, userId: id, action: 'update_user' },
        'admin updated a user',
      )
      return updated
    },
  )

  app.delete(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'deleteUser',
        summary: 'Delete a user',
        security,
        params: schemas.IdParams,
        response: { 200: schemas.UserRef },
      },
    },
    async (request) => {
      const deleted = await service.deleteUser(request.params.id, {
        actorId: request.user?.id ?? null,
      })
      request.log.info(
        { event: 'authz_admin', actor: request.user?.id, userId: deleted.id, action: 'delete_user' },
        'admin deleted a user',
      )
      return deleted
    },
  )
}
