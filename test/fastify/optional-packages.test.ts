/**
 * The packages of optional features are imported only when the feature is configured, and then at
 * registration: an application that uses none of them does not pay their memory, and one that uses a
 * feature whose package is missing fails at `register()`/`ready()`, not at its first request. Each case
 * runs in a child process of its own, since a module once imported stays loaded.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const tsx = import.meta.resolve('tsx')
const fixture = fileURLToPath(new URL('./fixtures/optional-packages-app.ts', import.meta.url))

interface Outcome {
  atImport: string[]
  atReady: string[]
  error: { code: unknown; message: string } | null
}

const BASE = {
  secret: 'optional-packages-secret-0123456789-abcdef',
  database: 'sqlite::memory:',
  migrate: true,
}

/** Every optional feature on: docs, bcrypt next to argon2id, two-factor, passkeys and a provider. */
const ALL_FEATURES = {
  ...BASE,
  hashSchemes: ['argon2id', 'bcrypt'],
  routes: { twoFactor: {} },
  passkeys: { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost:3000'] },
  oauth: {
    baseUrl: 'http://localhost:3000',
    providers: {
      idp: {
        clientId: 'app',
        clientSecret: 'secret',
        authorizationEndpoint: 'http://localhost:4000/authorize',
        tokenEndpoint: 'http://localhost:4000/token',
        userinfoEndpoint: 'http://localhost:4000/userinfo',
        allowInsecureRequests: true,
      },
    },
  },
}

async function run(options: object, missingPackage?: string): Promise<Outcome> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, fixture], {
    env: {
      ...process.env,
      PLUGIN_OPTIONS: JSON.stringify(options),
      ...(missingPackage ? { MISSING_PACKAGE: missingPackage } : {}),
    },
  })
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Outcome
}

describe('optional packages', () => {
  it('imports only the default scheme’s binding with the default options and the docs off', async () => {
    const outcome = await run({ ...BASE, openapi: false })
    assert.equal(outcome.error, null)
    assert.deepEqual(outcome.atImport, [])
    assert.deepEqual(outcome.atReady, ['@node-rs/argon2'])
  })

  it('imports no password binding for scrypt alone', async () => {
    const outcome = await run({ ...BASE, openapi: false, hashSchemes: ['scrypt'] })
    assert.equal(outcome.error, null)
    assert.deepEqual(outcome.atReady, [])
  })

  it('imports the docs packages only for the docs, which are on by default', async () => {
    const outcome = await run(BASE)
    assert.equal(outcome.error, null)
    assert.deepEqual(outcome.atImport, [])
    assert.deepEqual(outcome.atReady, ['@fastify/swagger', '@fastify/swagger-ui', '@node-rs/argon2'])
  })

  it('imports each configured feature’s package at registration', async () => {
    const outcome = await run(ALL_FEATURES)
    assert.equal(outcome.error, null)
    assert.deepEqual(outcome.atImport, [])
    assert.deepEqual(outcome.atReady, [
      '@fastify/swagger',
      '@fastify/swagger-ui',
      '@node-rs/argon2',
      '@node-rs/bcrypt',
      '@oslojs/otp',
      'openid-client',
      'uqr',
    ])
  })

  for (const missing of ['openid-client', '@node-rs/argon2', '@node-rs/bcrypt', '@oslojs/otp']) {
    it(`fails registration when ${missing} is configured but missing`, async () => {
      const outcome = await run(ALL_FEATURES, missing)
      assert.equal(outcome.error?.code, 'ERR_MODULE_NOT_FOUND')
      assert.match(outcome.error?.message ?? '', new RegExp(`'${missing}'`))
    })
  }

  it('does not need a missing package whose feature is off', async () => {
    for (const missing of ['openid-client', '@node-rs/argon2']) {
      const outcome = await run({ ...BASE, openapi: false, hashSchemes: ['scrypt'] }, missing)
      assert.equal(outcome.error, null)
    }
  })
})
