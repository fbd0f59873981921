/**
 * How the plugin's routes reach an OpenAPI document: its own (`@fastify/swagger` registered by the plugin),
 * or the application's, when the application registered `@fastify/swagger` itself before the plugin.
 *
 * @module
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { AuthBackend, AuthBackendName } from '../auth/auth-backend.js'
import { documentOperation, OPTIONAL_BODY, type OperationDocOptions } from './openapi-responses.js'

/** An OpenAPI security scheme object. */
export type SecurityScheme =
  | { type: 'http'; scheme: 'bearer'; bearerFormat: 'JWT' }
  | { type: 'apiKey'; in: 'cookie'; name: string }

/**
 * The security scheme of a backend, under the name the plugin's routes use: `bearerAuth` on the `jwt`
 * backend, `cookieAuth` (the backend's cookie) on the others.
 *
 * @example
 * ```ts
 * securitySchemeOf('jwt', null) // { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
 * ```
 */
export function securitySchemeOf(
  backend: AuthBackendName,
  cookieName: string | null | undefined,
): Record<string, SecurityScheme> {
  return backend === 'jwt'
    ? { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
    : { cookieAuth: { type: 'apiKey', in: 'cookie', name: cookieName ?? '' } }
}

/**
 * The security schemes of the configured backends and the `security` of an operation that needs a
 * credential (any one of them): `bearerAuth` for the Bearer backends (one header, one scheme),
 * `cookieAuth` for the first cookie backend and `cookieAuth-<name>` for each further one.
 *
 * @example
 * ```ts
 * securityOf([sessionBackend, jwtBackend]).security // [{ cookieAuth: [] }, { bearerAuth: [] }]
 * ```
 */
export function securityOf(backends: readonly Pick<AuthBackend, 'name' | 'cookieName'>[]): {
  schemes: Record<string, SecurityScheme>
  security: Array<Record<string, string[]>>
} {
  const schemes: Record<string, SecurityScheme> = {}
  for (const backend of backends) {
    if (backend.cookieName === null) {
      schemes.bearerAuth = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
    } else {
      const name = 'cookieAuth' in schemes ? `cookieAuth-${backend.name}` : 'cookieAuth'
      schemes[name] = { type: 'apiKey', in: 'cookie', name: backend.cookieName }
    }
  }
  return { schemes, security: Object.keys(schemes).map((name) => ({ [name]: [] })) }
}

/**
 * Whether the application registered `@fastify/swagger` itself before the plugin. The plugin then adds its
 * routes and its security scheme to the application's document and registers no document of its own: a
 * second `@fastify/swagger` would fail with "The decorator 'swagger' has already been added".
 */
export function appHasSwagger(fastify: FastifyInstance): boolean {
  return fastify.hasDecorator('swagger')
}

interface SwaggerTransformInput {
  schema: unknown
  url: string
  route?: { method?: string | string[] }
  openapiObject: OpenApiObject
}

type OpenApiObject = {
  components?: { securitySchemes?: Record<string, unknown> } & Record<string, unknown>
  paths?: Record<string, Record<string, unknown>>
} & Record<string, unknown>

/**
 * Sets `requestBody.required: false` on the operations marked optional: `@fastify/swagger` marks every
 * body it documents required, but `POST /verify` also takes its token as `?token=` without any body.
 * Runs on the document under construction (from each route's transform) and on the finished one.
 *
 * @example
 * ```ts
 * await fastify.register(fastifySwagger, { transformObject: ({ openapiObject }) => markOptionalBodies(openapiObject) })
 * ```
 */
export function markOptionalBodies<T extends object>(openapiObject: T): T {
  const paths = (openapiObject as OpenApiObject).paths ?? {}
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations ?? {})) {
      const op = operation as Record<string, unknown> & { requestBody?: { required?: boolean } }
      if (typeof op !== 'object' || op === null || op[OPTIONAL_BODY] !== true) continue
      delete op[OPTIONAL_BODY]
      if (op.requestBody) op.requestBody.required = false
    }
  }
  return openapiObject
}

/**
 * Completes the OpenAPI operations of the plugin's routes, through the route-level `swaggerTransform` hook
 * of `@fastify/swagger`, in the plugin's own document and in an application's: every error answer, the
 * success answers' descriptions and headers, `security: []` on public operations (see
 * `openapi-responses.ts`), and the plugin's security scheme. The runtime schemas are not touched.
 *
 * The scheme is declared in the document being built (a fresh object on each build) before the route's
 * operation is: `@fastify/swagger` throws while building an operation whose `security` names a scheme the
 * document does not declare, and an application cannot be expected to know the plugin's scheme. Its
 * `securitySchemes` may be the application's own options object, so it is replaced by a copy, never
 * written to; a scheme the application already declares under the same name is left as it is. The
 * application's global `transform` does not run on the plugin's routes (their schemas are plain JSON
 * Schema already); a route that already has a `swaggerTransform` keeps it.
 *
 * @example
 * ```ts
 * documentPluginRoutes(routes, securitySchemeOf('jwt', null), {
 *   cookieBackend: false,
 *   rateLimited: true,
 *   challenge: 'Bearer',
 * })
 * ```
 */
export function documentPluginRoutes(
  routes: FastifyInstance,
  schemes: Record<string, SecurityScheme>,
  options: OperationDocOptions,
): void {
  const swaggerTransform = ({ schema, url, route, openapiObject }: SwaggerTransformInput) => {
    const components = openapiObject.components ?? {}
    const declared = components.securitySchemes ?? {}
    const missing = Object.entries(schemes).filter(([name]) => !(name in declared))
    if (missing.length > 0) {
      openapiObject.components = {
        ...components,
        securitySchemes: { ...declared, ...Object.fromEntries(missing) },
      }
    }
    // The operations built so far are complete: apply their marks now, in case no later pass does.
    markOptionalBodies(openapiObject)
    const method = Array.isArray(route?.method) ? (route.method[0] ?? 'GET') : (route?.method ?? 'GET')
    const documented = documentOperation(schema as Record<string, unknown> | undefined, method, options)
    return { schema: documented, url }
  }
  routes.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as Record<string, unknown>
    if (config.swaggerTransform !== undefined) return
    route.config = { ...config, swaggerTransform } as RouteOptions['config']
  })
}
