/**
 * The admin routes on roles: list, get, create, update, delete, assign and revoke.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify'
import type { Id } from '../../core/user.js'
import type { RoleManagementHandlerConfig } from '../options.js'
import type { RouteContext } from '../route-context.js'

/** Registers the role management routes behind the given guards. */
export function roleManagementRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: RoleManagementHandlerConfig,
  guards: preHandlerAsyncHookHandler[],
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, schemas } = context
  const prefix = config.pathPrefix ?? '/users/roles'
  const tags = config.tags ?? ['roles']
  const security = guards.length > 0 ? context.security : []
  // Guards run before validation: without the right credential, no input is looked at (401/403, never a
  // validation error that describes an admin route to a stranger).
  const preValidation = guards
  const params = schemas.IdParams
  const audit = (
    request: { log: { info: (o: object, m: string) => void }; user: { id: Id } | null },
    action: string,
    detail: object,
  ) => request.log.info({ event: 'authz_change', actor: request.user?.id, action, ...detail }, 'role change')

  app.get(
    prefix,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'listRoles',
        summary: 'List roles',
        security,
        response: { 200: schemas.RoleList },
      },
    },
    async () => service.listRoles(),
  )

  app.post(
    prefix,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'createRole',
        summary: 'Create a role',
        security,
        body: schemas.RoleCreate,
        response: { 201: schemas.RoleRef },
      },
    },
    async (request, reply) => {
      const role = await service.addRole(request.body)
      audit(request, 'create_role', { roleId: role.id })
      return reply.code(201).send(role)
    },
  )

  for (const [action, method] of [
    ['assign', 'assignRole'],
    ['revoke', 'revokeRole'],
  ] as const) {
    app.put(
      `${prefix}/${action}`,
      {
        preValidation,
        schema: {
          tags,
          operationId: action === 'assign' ? 'assignRole' : 'revokeRole',
          summary: action === 'assign' ? 'Give a user a role' : 'Take a role from a user',
          description: "Takes effect on the user's next request. Answers the user with their roles.",
          security,
          body: schemas.RoleAssignment,
          response: { 200: schemas.UserRef },
        },
      },
      async (request) => {
        const { userId, roleId } = request.body
        // The actor is passed so that an admin cannot take their own admin role (ERR_SELF_LOCKOUT).
        const actor = { actorId: request.user?.id ?? null }
        const user =
          method === 'revokeRole'
            ? await service.revokeRole(userId, roleId, actor)
            : await service.assignRole(userId, roleId)
        audit(request, `${action}_role`, { userId, roleId })
        return user
      },
    )
  }

  const byId = `${prefix}/:id`
  app.get(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'getRole',
        summary: 'Get a role',
        security,
        params,
        response: { 200: schemas.RoleRef },
      },
    },
    async (request) => service.getRole(request.params.id),
  )
  app.patch(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'updateRole',
        summary: 'Update a role',
        security,
        params,
        body: schemas.RolePatch,
        response: { 200: schemas.RoleRef },
      },
    },
    async (request) => {
      const role = await service.updateRole(request.params.id, request.body, {
        actorId: request.user?.id ?? null,
      })
      audit(request, 'update_role', { roleId: role.id })
      return role
    },
  )
  app.delete(
    byId,
    {
      preValidation,
      schema: {
        tags,
        operationId: 'deleteRole',
        summary: 'Delete a role',
        description: 'Unassigns it from every user.',
        security,
        params,
        response: { 200: schemas.RoleRef },
      },
    },
    async (request) => {
      const role = await service.deleteRole(request.params.id, {
        actorId: request.user?.id ?? null,
      })
      audit(request, 'delete_role', { roleId: role.id })
      return role
    },
  )
}
