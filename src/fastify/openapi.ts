/**
 * How the plugin's routes reach an OpenAPI document: its own (`@fastify/swagger` registered by the plugin),
 * or the application's, when the application registered `@fastify/swagger` itself before the plugin.
 *
 * @module
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { AuthBackend, AuthBackendName } from '../auth/auth-backend.js'

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
  openapiObject: { components?: { securitySchemes?: Record<string, unknown> } & Record<string, unknown> }
}

/**
 * Declares the plugin's security scheme in the application's OpenAPI document, through the route-level
 * `swaggerTransform` hook of `@fastify/swagger` (called with the document being built, before the route's
 * operation is): `@fastify/swagger` throws while building an operation whose `security` names a scheme the
 * document does not declare, and the application cannot be expected to know the plugin's scheme.
 *
 * The document is a fresh object on each build; its `securitySchemes` may be the application's own options
 * object, so it is replaced by a copy, never written to. A scheme the application already declares under
 * the same name is left as it is. The application's global `transform` does not run on the plugin's routes
 * (their schemas are plain JSON Schema already).
 *
 * @example
 * ```ts
 * if (appHasSwagger(fastify)) declareSecuritySchemeInAppDocument(routes, securitySchemeOf('jwt', null))
 * ```
 */
export function declareSecuritySchemeInAppDocument(
  routes: FastifyInstance,
  schemes: Record<string, SecurityScheme>,
): void {
  const swaggerTransform = ({ schema, url, openapiObject }: SwaggerTransformInput) => {
    const components = openapiObject.components ?? {}
    const declared = components.securitySchemes ?? {}
    const missing = Object.entries(schemes).filter(([name]) => !(name in declared))
    if (missing.length > 0) {
      openapiObject.components = {
        ...components,
        securitySchemes: { ...declared, ...Object.fromEntries(missing) },
      }
    }
    return { schema, url }
  }
  routes.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as Record<string, unknown>
    if (config.swaggerTransform !== undefined) return
    route.config = { ...config, swaggerTransform } as RouteOptions['config']
  })
}
