/**
 * `GET /openapi.json` and `GET /docs` on the three backends: an OpenAPI 3.1 document of every route, with
 * the custom user fields and the security scheme of the configured backend, generated from the schemas
 * that validate and serialize.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { backends, buildApp, json, type TestApp } from './build-app.js'

interface Operation {
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ name: string; in: string }>
  requestBody?: { content: Record<string, { schema: JsonSchema }> }
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>
}
interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  $ref?: string
  maxLength?: number
  maximum?: number
  additionalProperties?: boolean
  items?: JsonSchema
}
interface OpenApi {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, Record<string, string>> }
}

const PUBLIC: Array<[string, string, string]> = [
  ['post', '/register', '202'],
  ['post', '/login', '200'],
  ['post', '/verify', '200'],
  ['post', '/verify/request', '202'],
  ['post', '/forgot-password', '202'],
  ['post', '/reset-password', '204'],
  ['post', '/users/me/email/confirm', '204'],
  ['post', '/users/me/email/cancel', '204'],
]
const PROTECTED: Array<[string, string, string]> = [
  ['post', '/logout', '204'],
  ['get', '/users/me', '200'],
  ['patch', '/users/me', '200'],
  ['post', '/users/me/password', '204'],
  ['get', '/users', '200'],
  ['get', '/users/{id}', '200'],
  ['patch', '/users/{id}', '200'],
  ['delete', '/users/{id}', '200'],
  ['get', '/users/roles', '200'],
  ['post', '/users/roles', '201'],
  ['get', '/users/roles/{id}', '200'],
  ['patch', '/users/roles/{id}', '200'],
  ['delete', '/users/roles/{id}', '200'],
  ['put', '/users/roles/assign', '200'],
  ['put', '/users/roles/revoke', '200'],
  ['get', '/users/me/sessions', '200'],
  ['delete', '/users/me/sessions/{id}', '204'],
  ['post', '/users/me/sessions/end-others', '200'],
  ['post', '/users/me/logout-everywhere', '204'],
  ['get', '/users/sessions/{id}', '200'],
  ['delete', '/users/sessions/{id}', '204'],
  ['delete', '/users/sessions/{id}/{sessionId}', '204'],
]

for (const backend of backends) {
  describe(`OpenAPI, ${backend} backend`, () => {
    let t: TestApp
    let doc: OpenApi
    const bodyOf = (method: string, path: string): JsonSchema => {
      const schema = doc.paths[path]?.[method]?.requestBody?.content['application/json']?.schema
      assert.ok(schema, `${method} ${path} documents its body`)
      return schema
    }

    before(async () => {
      t = await buildApp({ backend })
      const res = await t.request({ method: 'GET', url: '/openapi.json' })
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^application\/json/)
      doc = json<OpenApi>(res)
    })
    after(async () => {
      await t?.destroy()
    })

    it('is an OpenAPI 3.1 document of every route and nothing else', () => {
      assert.match(doc.openapi, /^3\.1\./)
      assert.equal(typeof doc.info.title, 'string')
      assert.equal(typeof doc.info.version, 'string')
      const documented = Object.entries(doc.paths)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
        .sort()
      // The JWT backends add the refresh route (public: the refresh token is its credential).
      const publicOps =
        backend === 'session' ? PUBLIC : [...PUBLIC, ['post', '/refresh', '200'] as [string, string, string]]
      const expected = [...publicOps, ...PROTECTED].map(([m, p]) => `${m} ${p}`).sort()
      assert.deepEqual(documented, expected)
      for (const [method, path, status] of [...publicOps, ...PROTECTED]) {
        assert.ok(doc.paths[path]?.[method]?.responses[status], `${method} ${path} documents ${status}`)
      }
      for (const path of ['/users/{id}', '/users/roles/{id}']) {
        for (const op of Object.values(doc.paths[path] ?? {})) {
          assert.ok(op.parameters?.some((p) => p.name === 'id' && p.in === 'path'))
        }
      }
    })

    it('names the security scheme of the backend on every protected operation, and on no public one', () => {
      const schemes = doc.components.securitySchemes
      if (backend === 'jwt') {
        assert.deepEqual(schemes, { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } })
      } else {
        assert.deepEqual(schemes, {
          cookieAuth: {
            type: 'apiKey',
            in: 'cookie',
            name: backend === 'session' ? '__Host-fastify-users-session' : '__Host-fastify-users-token',
          },
        })
      }
      const name = backend === 'jwt' ? 'bearerAuth' : 'cookieAuth'
      for (const [method, path] of PROTECTED) {
        assert.deepEqual(doc.paths[path]?.[method]?.security, [{ [name]: [] }], `${method} ${path}`)
      }
      for (const [method, path] of PUBLIC) {
        const security = doc.paths[path]?.[method]?.security
        assert.ok(security === undefined || security.length === 0, `${method} ${path} is public`)
      }
    })

    it('documents the user with the custom field and without secrets', () => {
      const user = doc.components.schemas.FastifyUsersUser
      assert.ok(user?.properties, JSON.stringify(Object.keys(doc.components.schemas)))
      assert.deepEqual(Object.keys(user.properties).sort(), [
        'createdAt',
        'displayName',
        'email',
        'id',
        'isActive',
        'isVerified',
        'pendingEmail',
        'roles',
        'updatedAt',
      ])
      assert.equal(user.properties.displayName?.maxLength, 100)
      assert.equal(user.additionalProperties, false)
      assert.doesNotMatch(JSON.stringify(doc), /passwordHash|authVersion|password_hash/)
      const meResponse = doc.paths['/users/me']?.get?.responses['200']?.content?.['application/json']?.schema
      assert.equal(meResponse?.$ref, '#/components/schemas/FastifyUsersUser')
    })

    it('documents the custom field in the request bodies that accept it, and only the allowed fields', () => {
      const register = bodyOf('post', '/register')
      assert.deepEqual(Object.keys(register.properties ?? {}).sort(), ['displayName', 'email', 'password'])
      assert.equal(register.additionalProperties, false)
      assert.deepEqual(Object.keys(bodyOf('patch', '/users/me').properties ?? {}).sort(), [
        'currentPassword',
        'displayName',
        'email',
      ])
      assert.deepEqual(Object.keys(bodyOf('post', '/verify').properties ?? {}).sort(), ['password', 'token'])
      assert.deepEqual(Object.keys(bodyOf('post', '/users/me/email/confirm').properties ?? {}).sort(), [
        'password',
        'token',
      ])
      assert.deepEqual(Object.keys(bodyOf('patch', '/users/{id}').properties ?? {}).sort(), [
        'displayName',
        'email',
        'isActive',
        'isVerified',
        'password',
      ])
      assert.deepEqual(Object.keys(bodyOf('post', '/users/me/password').properties ?? {}).sort(), [
        'currentPassword',
        'newPassword',
      ])
    })

    it('documents the login answer of the backend', () => {
      const schema = doc.paths['/login']?.post?.responses['200']?.content?.['application/json']?.schema
      assert.ok(schema)
      if (backend === 'jwt') {
        assert.ok(
          schema.properties?.accessToken && schema.properties.tokenType && schema.properties.expiresIn,
        )
        assert.ok(schema.properties.displayName)
      } else {
        assert.equal(schema.$ref, '#/components/schemas/FastifyUsersUser')
      }
    })

    it('documents the page size limit and the filters of GET /users', () => {
      const params = doc.paths['/users']?.get?.parameters ?? []
      assert.deepEqual(params.map((p) => p.name).sort(), [
        'cursor',
        'email',
        'isActive',
        'isVerified',
        'limit',
        'offset',
        'order',
        'orderBy',
        'role',
      ])
      const limit = params.find((p) => p.name === 'limit') as unknown as { schema: JsonSchema }
      assert.equal(limit.schema.maximum, 100)
    })

    it('serves interactive docs at /docs', async () => {
      let res = await t.request({ method: 'GET', url: '/docs' })
      for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops++) {
        const location = String(res.headers.location)
        res = await t.request({ method: 'GET', url: new URL(location, 'http://localhost/docs').pathname })
      }
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      assert.match(res.body, /<html/i)
      assert.match(res.body, /swagger/i)
      const spec = await t.request({ method: 'GET', url: '/docs/json' })
      assert.equal(spec.statusCode, 200)
      assert.deepEqual(Object.keys(json<OpenApi>(spec).paths).sort(), Object.keys(doc.paths).sort())
    })
  })
}
