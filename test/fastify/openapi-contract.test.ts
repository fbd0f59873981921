/**
 * `/openapi.json` as a contract generated clients can trust, on the three backends: it passes Redocly's
 * `recommended` ruleset with no error; every operation has an `operationId`, tags and documented error
 * answers (`application/problem+json`, the problem schema); and a client program written against the
 * types openapi-typescript generates from it type-checks under `strict` with typed errors, then drives a
 * whole journey against a listening server, every answer checked against the documented schema. With
 * two-factor and passkeys on, every flow they add is documented as fully, step-up refusals included.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import fastifySwagger from '@fastify/swagger'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import Fastify from 'fastify'
import type { Kysely } from 'kysely'
import openapiTS, { astToString } from 'openapi-typescript'
import type { AuthBackendName } from '../../src/auth/auth-backend.js'
import { fastifyUsers } from '../../src/fastify/index.js'
import { createTestDatabase } from '../helpers/databases.js'
import { BASE_URL, backends, buildApp, json, PASSWORD, SECRET, type TestApp } from './build-app.js'
import {
  type Answer,
  duplicateRegistrationSource,
  type JourneyOptions,
  journeySource,
} from './openapi-client-journey.js'

const root = resolve(import.meta.dirname, '../..')
const run = promisify(execFile)
// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020

interface Response {
  description: string
  headers?: Record<string, { schema: { enum?: unknown[] }; description?: string }>
  content?: Record<string, { schema: unknown }>
}
interface Operation {
  operationId?: string
  tags?: string[]
  security?: unknown[]
  requestBody?: { required?: boolean }
  responses: Record<string, Response>
}
interface OpenApi {
  servers?: Array<{ url: string }>
  paths: Record<string, Record<string, Operation>>
}

const operations = (doc: OpenApi) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  )

/**
 * Every operation has a unique camelCase `operationId`, tags and its security, and documents its errors as
 * problem documents: 503 with `Retry-After` everywhere, 401 with `WWW-Authenticate` on protected ones, 429
 * on public ones.
 */
function assertOperationsDocumented(doc: OpenApi, challenge: string): void {
  const ids = new Set<string>()
  for (const { path, method, op } of operations(doc)) {
    const where = `${method} ${path}`
    assert.match(op.operationId ?? '', /^[a-z][a-zA-Z]+$/, `${where} has a camelCase operationId`)
    assert.ok(!ids.has(op.operationId ?? ''), `${where}: operationId is unique`)
    ids.add(op.operationId ?? '')
    assert.ok((op.tags ?? []).length > 0, `${where} is tagged`)
    assert.ok(Array.isArray(op.security), `${where} states its security`)
    for (const [status, response] of Object.entries(op.responses)) {
      assert.ok(response.description && response.description !== 'Default Response', `${where} ${status}`)
      if (Number(status) < 400) continue
      assert.deepEqual(
        Object.keys(response.content ?? {}),
        ['application/problem+json'],
        `${where} ${status}`,
      )
      assert.deepEqual(response.content?.['application/problem+json']?.schema, {
        $ref: '#/components/schemas/FastifyUsersProblem',
      })
    }
    assert.ok(op.responses['503']?.headers?.['Retry-After'], `${where} documents 503 with Retry-After`)
    const isProtected = (op.security ?? []).length > 0
    // The one challenge this backend sends (it said `Bearer, Cookie` on every backend).
    const documented = op.responses['401']?.headers?.['WWW-Authenticate']
    if (isProtected) assert.ok(documented, `${where} documents 401`)
    if (documented) assert.deepEqual(documented.schema.enum, [challenge], where)
    if (!isProtected) assert.ok(op.responses['429']?.headers?.['Retry-After'], `${where} documents 429`)
  }
}

/** Reads an answer's documented response, checks the media type, headers and body against it. */
function checkAnswer(ajv: Ajv2020, doc: OpenApi, answer: Answer): void {
  const where = `${answer.method.toUpperCase()} ${answer.path} ${answer.status}`
  const response = doc.paths[answer.path]?.[answer.method]?.responses[String(answer.status)]
  assert.ok(response, `${where} is documented: ${answer.body}`)
  for (const [name, documented] of Object.entries(response.headers ?? {})) {
    const value = answer.headers[name.toLowerCase()]
    assert.ok(value, `${where} sends the documented ${name}`)
    if (documented.schema.enum) {
      assert.ok(documented.schema.enum.includes(value), `${where}: ${name} ${value} is a documented value`)
    }
  }
  if (!response.content) {
    assert.equal(answer.body, '', `${where} has no body`)
    return
  }
  const mediaType = (answer.headers['content-type'] ?? '').split(';')[0]?.trim() ?? ''
  assert.ok(response.content[mediaType], `${where}: ${mediaType} is a documented media type`)
  const pointer = [
    'paths',
    answer.path,
    answer.method,
    'responses',
    String(answer.status),
    'content',
    mediaType,
  ]
    .map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('/')
  const validate = ajv.getSchema(`openapi.json#/${pointer}/schema`)
  assert.ok(validate, `${where}: schema found`)
  const body: unknown = JSON.parse(answer.body)
  assert.ok(validate(body), `${where}: ${JSON.stringify(validate.errors)}\n${answer.body}`)
}

const documents = new Map<AuthBackendName, { t: TestApp; doc: OpenApi; body: string }>()
let workDir: string
let typeCheck: Promise<{ code: number; output: string }>
let open: TestApp | undefined
let openDoc: OpenApi

before(async () => {
  for (const backend of backends) {
    const t = await buildApp({ backend })
    const res = await t.request({ method: 'GET', url: '/openapi.json' })
    assert.equal(res.statusCode, 200)
    documents.set(backend, { t, doc: json<OpenApi>(res), body: res.body })
  }
  // The client programs of the three backends, and a control: the session backend's program against a
  // document stripped of its error answers, which must fail to type-check.
  workDir = await mkdtemp(join(tmpdir(), 'fastify-users-openapi-'))
  await symlink(join(root, 'node_modules'), join(workDir, 'node_modules'), 'dir')
  await writeFile(join(workDir, 'package.json'), JSON.stringify({ type: 'module' }))
  const files: string[] = []
  const generate = async (name: string, doc: OpenApi, source: (types: string) => string) => {
    const types = astToString(await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0]))
    await writeFile(join(workDir, `${name}.api.ts`), types)
    await writeFile(join(workDir, `${name}.client.ts`), source(`${name}.api.js`))
    files.push(`${name}.client.ts`)
  }
  for (const [backend, { doc }] of documents) {
    await generate(backend, doc, (types) => journeySource(types, backend === 'jwt'))
  }
  // Verification off: registration answers the user, and a taken address a typed 409.
  open = await buildApp({ backend: 'jwt', requireVerificationOnRegistration: false })
  openDoc = json<OpenApi>(await open.request({ method: 'GET', url: '/openapi.json' }))
  await generate('open', openDoc, duplicateRegistrationSource)
  const session = documents.get('session')?.doc as OpenApi
  const stripped: OpenApi = structuredClone(session)
  for (const { op } of operations(stripped)) {
    for (const status of Object.keys(op.responses)) if (Number(status) >= 400) delete op.responses[status]
  }
  await generate('control', stripped, (types) => journeySource(types, false))
  await writeFile(
    join(workDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['es2022', 'dom', 'dom.iterable'],
        types: [],
        skipLibCheck: true,
      },
      files,
    }),
  )
  // One compiler run for the four programs, started now and awaited by the tests that need it.
  typeCheck = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', workDir], {
    cwd: workDir,
  }).then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
  )
})

after(async () => {
  for (const { t } of documents.values()) await t.destroy()
  await open?.destroy()
  if (workDir) await rm(workDir, { recursive: true, force: true })
})

for (const backend of backends) {
  describe(`OpenAPI contract, ${backend} backend`, () => {
    const docOf = () => {
      const entry = documents.get(backend)
      assert.ok(entry)
      return entry
    }

    it("passes Redocly's recommended ruleset with no error", async () => {
      const config = await createConfig({ extends: ['recommended'] })
      const problems = await lintFromString({ source: docOf().body, absoluteRef: '/openapi.json', config })
      const errors = problems.filter((p) => p.severity === 'error')
      assert.deepEqual(
        errors.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`),
        [],
      )
      const warnings = problems.filter((p) => p.severity === 'warn').map((p) => p.ruleId)
      // The licence is the application's to state; nothing else is left to warn about.
      assert.deepEqual(warnings, ['info-license'])
    })

    it('names every operation, tags it, and documents its errors as problem+json', () => {
      const { doc } = docOf()
      assert.deepEqual(doc.servers, [{ url: '/' }])
      assertOperationsDocumented(doc, backend === 'jwt' ? 'Bearer' : 'Cookie')
      const login = doc.paths['/login']?.post
      assert.ok(login?.responses['400'] && login.responses['401'] && login.responses['403'])
      assert.equal(Boolean(login.responses['200']?.headers?.['Set-Cookie']), backend !== 'jwt')
      const logout = doc.paths['/logout']?.post?.responses['204']?.headers ?? {}
      assert.deepEqual(Object.keys(logout).sort(), backend === 'jwt' ? [] : ['Clear-Site-Data', 'Set-Cookie'])
      assert.ok(doc.paths['/users/{id}']?.get?.responses['404'])
      assert.ok(doc.paths['/users/roles']?.post?.responses['409'])
      // The token can come as ?token= alone; the body is then optional.
      assert.equal(doc.paths['/verify']?.post?.requestBody?.required, false)
    })

    it('drives a whole journey with a generated openapi-fetch client, every answer as documented', async () => {
      const { t, doc } = docOf()
      const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
      ajv.addSchema(doc, 'openapi.json')
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
      const checked = await typeCheck
      const ownErrors = checked.output.split('\n').filter((line) => line.startsWith(`${backend}.`))
      assert.deepEqual(ownErrors, [], 'the client program type-checks under strict')
      const { journey } = (await import(pathToFileURL(join(workDir, `${backend}.client.ts`)).href)) as {
        journey(options: JourneyOptions): Promise<number>
      }
      // An international address: the server accepts it, so the document must too.
      const email = `josé.${backend}.${Date.now().toString(36)}@exämple.com`
      const answers = await journey({
        baseUrl: address,
        email,
        password: PASSWORD,
        tokenFor: (to) => t.tokenFor(to),
        check: async (answer) => checkAnswer(ajv, doc, answer),
      })
      assert.equal(answers, 11)
    })
  })
}

describe('OpenAPI contract, verification off', () => {
  it('types the 201 answer and the 409 of a taken address', async () => {
    assert.ok(open)
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
    ajv.addSchema(openDoc, 'openapi.json')
    assert.ok(openDoc.paths['/register']?.post?.responses['409'])
    const address = await open.app.listen({ port: 0, host: '127.0.0.1' })
    const checked = await typeCheck
    assert.deepEqual(
      checked.output.split('\n').filter((line) => line.startsWith('open.')),
      [],
      'the client program type-checks under strict',
    )
    const { journey } = (await import(pathToFileURL(join(workDir, 'open.client.ts')).href)) as {
      journey(options: {
        baseUrl: string
        check(answer: Answer): Promise<void>
        email: string
        password: string
      }): Promise<number>
    }
    const answers = await journey({
      baseUrl: address,
      email: `ada.${Date.now().toString(36)}@exämple.com`,
      password: PASSWORD,
      check: async (answer) => checkAnswer(ajv, openDoc, answer),
    })
    assert.equal(answers, 2)
  })
})

describe('OpenAPI contract, error answers left out', () => {
  it('a client program reading error codes fails to type-check (the control)', async () => {
    const { code, output } = await typeCheck
    assert.notEqual(code, 0)
    const lines = output.split('\n').filter((line) => /error TS/.test(line))
    assert.ok(lines.length > 0)
    assert.deepEqual(
      lines.filter((line) => !line.startsWith('control.')),
      [],
      'only the control program fails',
    )
    assert.match(output, /on type 'never'/)
  })
})

describe("OpenAPI contract, in an application's own document", () => {
  it("documents the plugin's operations there as fully, and passes the recommended ruleset", async () => {
    const database = await createTestDatabase<unknown>('sqlite')
    const app = Fastify()
    try {
      await app.register(fastifySwagger, {
        openapi: {
          openapi: '3.1.0',
          info: { title: 'the app', version: '2.0.0', license: { name: 'MIT', identifier: 'MIT' } },
          servers: [{ url: 'https://api.acme.dev' }],
        },
      })
      await app.register(fastifyUsers, {
        secret: SECRET,
        database: database.db as Kysely<unknown>,
        migrate: true,
        authBackend: 'session',
        baseUrl: BASE_URL,
      })
      await app.ready()
      const doc = app.swagger() as unknown as OpenApi
      const ours = operations(doc)
      assert.equal(ours.length, 30)
      for (const { path, method, op } of ours) {
        assert.ok(op.operationId, `${method} ${path}`)
        const problem = op.responses['503']?.content?.['application/problem+json']?.schema as {
          $ref?: string
        }
        const target = problem?.$ref?.replace('#/components/schemas/', '') ?? ''
        const components = (
          doc as unknown as { components: { schemas: Record<string, { properties?: object }> } }
        ).components.schemas
        assert.ok(
          components[target]?.properties && 'code' in components[target].properties,
          `${method} ${path}`,
        )
      }
      assert.equal(doc.paths['/verify']?.post?.requestBody?.required, false)
      const config = await createConfig({ extends: ['recommended'] })
      const problems = await lintFromString({
        source: JSON.stringify(doc),
        absoluteRef: '/openapi.json',
        config,
      })
      assert.deepEqual(
        problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`),
        [],
      )
    } finally {
      await app.close()
      await database.destroy()
    }
  })
})

describe('OpenAPI contract, servers', () => {
  it('lists the configured servers', async () => {
    const servers = [{ url: 'https://api.acme.dev', description: 'production' }]
    const t = await buildApp({ backend: 'jwt', openapi: { servers } })
    try {
      const doc = json<OpenApi>(await t.request({ method: 'GET', url: '/openapi.json' }))
      assert.deepEqual(doc.servers, servers)
      assert.ok(doc.paths['/login'], 'a server without a path leaves the paths as they are')
    } finally {
      await t.destroy()
    }
  })
})

/** The operations two-factor and passkeys add, with the answers a client must be able to type. */
const SECURITY_OPERATIONS: Array<[string, string, string[]]> = [
  ['post', '/login/2fa', ['200', '401', '429']],
  ['post', '/login/2fa/passkey/options', ['200', '401', '404']],
  ['post', '/users/me/reauthenticate', ['204', '403', '429']],
  ['post', '/users/me/reauthenticate/passkey/options', ['200', '404']],
  ['get', '/users/me/2fa', ['200']],
  ['post', '/users/me/2fa/totp', ['200', '403', '409']],
  ['post', '/users/me/2fa/totp/confirm', ['200', '403', '409', '429']],
  ['delete', '/users/me/2fa/totp', ['204', '403']],
  ['post', '/users/me/2fa/recovery-codes', ['200', '403']],
  ['post', '/login/passkey/options', ['200']],
  ['post', '/login/passkey', ['200', '401', '403']],
  ['post', '/users/me/passkeys/options', ['200', '403', '429']],
  ['post', '/users/me/passkeys', ['201', '400', '409']],
  ['get', '/users/me/passkeys', ['200']],
  ['patch', '/users/me/passkeys/{id}', ['200', '404']],
  ['delete', '/users/me/passkeys/{id}', ['204', '403', '404']],
]

for (const backend of backends) {
  describe(`OpenAPI contract, two-factor and passkeys on, ${backend} backend`, () => {
    let t: TestApp | undefined
    let body: string
    let doc: OpenApi
    before(async () => {
      t = await buildApp({
        backend,
        routes: { twoFactor: {} },
        passkeys: { rpId: 'app.example.com', rpName: 'Example', origins: [BASE_URL] },
      })
      const res = await t.request({ method: 'GET', url: '/openapi.json' })
      assert.equal(res.statusCode, 200)
      body = res.body
      doc = json<OpenApi>(res)
    })
    after(async () => {
      await t?.destroy()
    })

    it('documents every flow of the factors, their errors included, and passes the recommended ruleset', async () => {
      const config = await createConfig({ extends: ['recommended'] })
      const problems = await lintFromString({ source: body, absoluteRef: '/openapi.json', config })
      assert.deepEqual(
        problems
          .filter((p) => p.ruleId !== 'info-license')
          .map((p) => `${p.severity} ${p.ruleId}: ${p.message}`),
        [],
      )
      assertOperationsDocumented(doc, backend === 'jwt' ? 'Bearer' : 'Cookie')
      for (const [method, path, statuses] of SECURITY_OPERATIONS) {
        const op = doc.paths[path]?.[method]
        assert.ok(op, `${method} ${path} is documented`)
        for (const status of statuses)
          assert.ok(op.responses[status], `${method} ${path} documents ${status}`)
        const isPublic = path.startsWith('/login')
        assert.equal((op.security ?? []).length === 0, isPublic, `${method} ${path} security`)
      }
      // The password step answers 202 with the challenge; every step-up refusal is a documented 403.
      assert.ok(doc.paths['/login']?.post?.responses['202'])
      for (const [method, path] of [
        ['post', '/users/me/password'],
        ['patch', '/users/me'],
      ]) {
        assert.ok(doc.paths[path!]?.[method!]?.responses['403'], `${method} ${path} documents 403`)
      }
    })
  })
}
