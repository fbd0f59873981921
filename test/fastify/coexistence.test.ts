/**
 * The plugin inside an application that has its own OpenAPI document: an app that registered
 * `@fastify/swagger` before the plugin used to crash at start ("The decorator 'swagger' has already been
 * added"), and with `openapi: false` its document threw on the plugin's undeclared `cookieAuth` scheme.
 * Now the plugin's routes and security scheme join the application's document.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import fastifySwagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { fastifyUsers } from '../../src/fastify/index.js'
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { BASE_URL, backends, SECRET } from './build-app.js'

interface Document {
  info: { title: string }
  paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>>
  components: { securitySchemes?: Record<string, Record<string, string>> }
}

const APP_SCHEMES = { appKey: { type: 'apiKey', in: 'header', name: 'x-app-key' } } as const

async function appWithSwagger(
  backend: (typeof backends)[number],
  openapi: boolean,
  appSchemes: Record<string, unknown> = APP_SCHEMES,
): Promise<{ app: FastifyInstance; database: TestDatabase<unknown>; appOptions: { components: unknown } }> {
  const database = await createTestDatabase<unknown>('sqlite')
  const app = Fastify()
  const appOptions = { components: { securitySchemes: appSchemes } }
  await app.register(fastifySwagger, {
    // The app's options as written, whatever schemes a test passes.
    openapi: { openapi: '3.1.0', info: { title: 'the app', version: '2.0.0' }, ...appOptions } as never,
  })
  await app.register(fastifyUsers, {
    secret: SECRET,
    database: database.db as Kysely<unknown>,
    migrate: true,
    authBackend: backend,
    baseUrl: BASE_URL,
    openapi,
  })
  app.get('/app-route', { schema: { security: [{ appKey: [] }] } }, async () => ({ ok: true }))
  await app.ready()
  return { app, database, appOptions }
}

/** Every scheme an operation names is declared: what @fastify/swagger and every client need. */
function assertSchemesDeclared(doc: Document): void {
  const declared = Object.keys(doc.components.securitySchemes ?? {})
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const requirement of operation.security ?? []) {
        for (const name of Object.keys(requirement)) {
          assert.ok(declared.includes(name), `${method} ${path} names the undeclared scheme ${name}`)
        }
      }
    }
  }
}

for (const backend of backends) {
  const scheme = backend === 'jwt' ? 'bearerAuth' : 'cookieAuth'

  describe(`an app that registers @fastify/swagger itself, ${backend} backend`, () => {
    const cleanups: Array<() => Promise<void>> = []
    after(async () => {
      for (const cleanup of cleanups) await cleanup()
    })

    for (const openapi of [true, false]) {
      it(`starts, and its document holds the plugin's routes and scheme (openapi: ${openapi})`, async () => {
        const { app, database, appOptions } = await appWithSwagger(backend, openapi)
        cleanups.push(async () => {
          await app.close()
          await database.destroy()
        })
        const doc = app.swagger() as unknown as Document
        assert.equal(doc.info.title, 'the app', "the app's document, not one of the plugin")
        assert.ok(doc.paths['/login']?.post, 'POST /login is documented')
        assert.ok(doc.paths['/app-route']?.get, "the app's own route is still documented")
        assert.deepEqual(doc.paths['/users/me']?.get?.security, [{ [scheme]: [] }])
        assert.deepEqual(doc.components.securitySchemes?.appKey, APP_SCHEMES.appKey, "the app's scheme stays")
        const ours = doc.components.securitySchemes?.[scheme]
        assert.ok(ours, `${scheme} is declared`)
        if (backend === 'jwt') assert.equal(ours.scheme, 'bearer')
        else assert.equal(ours.in, 'cookie')
        assertSchemesDeclared(doc)
        // The app's options object is not written to: its schemes are still only its own.
        assert.deepEqual(appOptions.components, { securitySchemes: APP_SCHEMES })
        // The plugin serves no second document or docs page beside the app's.
        assert.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 404)
        assert.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode, 404)
        // A second build (no cache in between: YAML) gives the same schemes.
        const yaml = app.swagger({ yaml: true }) as unknown as string
        assert.match(yaml, new RegExp(`${scheme}:`))
      })
    }

    it('keeps a scheme of the same name the app declared, and declares nothing on top of it', async () => {
      const own = {
        ...APP_SCHEMES,
        [scheme]: { type: 'http', scheme: 'basic', description: "the app's own" },
      }
      const { app, database } = await appWithSwagger(backend, true, own)
      cleanups.push(async () => {
        await app.close()
        await database.destroy()
      })
      const doc = app.swagger() as unknown as Document
      assert.deepEqual(doc.components.securitySchemes, own)
    })

    it('also works without any components in the app document', async () => {
      const database = await createTestDatabase<unknown>('sqlite')
      const app = Fastify()
      cleanups.push(async () => {
        await app.close()
        await database.destroy()
      })
      await app.register(fastifySwagger, { openapi: { info: { title: 'bare', version: '1' } } })
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: database.db as Kysely<unknown>,
        migrate: true,
        authBackend: backend,
        baseUrl: BASE_URL,
        openapi: false,
      })
      await app.ready()
      const doc = app.swagger() as unknown as Document
      assert.ok(doc.components.securitySchemes?.[scheme])
      assertSchemesDeclared(doc)
    })
  })
}
