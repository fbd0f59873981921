/**
 * The plugin's own OpenAPI document and interactive docs, unless the application has its own
 * `@fastify/swagger` (then the plugin's routes join the application's document).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { FlatOptions } from './normalize-options.js'
import type { PluginPaths } from './not-found.js'
import { markOptionalBodies, type SecurityScheme } from './openapi.js'
import { docsSecurityHeaders } from './security-headers.js'

/**
 * Registers `@fastify/swagger` with the plugin's security schemes, `GET /openapi.json` and the docs at
 * `openapi.docsPath` (default `/docs`), when `openapi` is not `false` and the app has no document.
 *
 * @example
 * ```ts
 * await serveDocs(fastify, flat, { schemes, pluginPaths, https: true, inAppDocument: false })
 * ```
 */
export async function serveDocs(
  fastify: FastifyInstance,
  options: Pick<FlatOptions, 'openapi' | 'appName'>,
  context: {
    schemes: Record<string, SecurityScheme>
    pluginPaths: PluginPaths
    https: boolean
    inAppDocument: boolean
  },
): Promise<void> {
  const openapi = options.openapi ?? true
  if (openapi === false || context.inAppDocument) return
  const settings = typeof openapi === 'object' ? openapi : {}
  // Imported here, not at the top: an application with the docs off does not load them.
  const [{ default: fastifySwagger }, { default: fastifySwaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ])
  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: settings.title ?? options.appName ?? 'fastify-users',
        version: settings.version ?? '1.0.0',
        description:
          'User management: registration, verification, login, password reset, profile, admin users and roles.',
      },
      servers: settings.servers ?? [{ url: '/' }],
      components: {
        securitySchemes: context.schemes,
      },
    },
    transformObject: (document) =>
      'openapiObject' in document ? markOptionalBodies(document.openapiObject) : document.swaggerObject,
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })
  // Its own context, so that the docs' security headers stay off the application's routes.
  await fastify.register((docs, _opts, done) => {
    docs.addHook('onRoute', (route) => context.pluginPaths.add(route.url, route.method))
    docsSecurityHeaders(docs, { https: context.https })
    docs.register(fastifySwaggerUi, { routePrefix: settings.docsPath ?? '/docs' })
    docs.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
    done()
  })
}
