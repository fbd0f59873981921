/**
 * `RequestAuthenticator.peek`: the shortcut the guards and the current user's route take when a
 * credential's answer is known without waiting. It must answer as `authenticate` would, backend order
 * included: the first backend that recognises the credential wins, and a backend that cannot tell at
 * once ends the shortcut.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FastifyRequest } from 'fastify'
import type { ActiveCredential, AuthBackend } from '../../src/auth/auth-backend.js'
import type { BaseUser } from '../../src/core/user.js'
import { RequestAuthenticator } from '../../src/fastify/request-auth.js'
import { silentLogger } from '../../src/kernel/logger.js'

type Answer = { user: BaseUser; credential: ActiveCredential } | null

function userNamed(id: string): BaseUser {
  const now = new Date(0)
  return {
    id,
    email: `${id}@example.com`,
    passwordHash: 'secret-hash',
    isActive: true,
    isVerified: true,
    createdAt: now,
    updatedAt: now,
    roles: [],
  } as unknown as BaseUser
}

function answer(id: string): Answer {
  return { user: userNamed(id), credential: { id: `${id}-credential`, expiresAt: 1, userId: id } }
}

/** A backend whose answers are fixed; counts how often it is asked. `peek: false` leaves `peek` out. */
function backend(name: string, answers: { peek?: Answer | undefined | false; authenticate: Answer }) {
  const calls = { peek: 0, authenticate: 0 }
  const b: AuthBackend & { calls: typeof calls } = {
    name,
    cookieName: null,
    calls,
    async login() {
      throw new Error('not used')
    },
    async logout() {},
    async authenticate() {
      calls.authenticate++
      return answers.authenticate
    },
  } as unknown as AuthBackend & { calls: typeof calls }
  if (answers.peek !== false)
    b.peek = () => {
      calls.peek++
      return answers.peek as Answer | undefined
    }
  return b
}

function authenticator(backends: AuthBackend[]): RequestAuthenticator {
  return new RequestAuthenticator(backends, {
    trustedOrigins: new Set(),
    secure: true,
    sameSite: 'lax',
    logger: silentLogger,
  })
}

const request = () => ({ headers: {}, cookies: {}, ip: '127.0.0.1' }) as unknown as FastifyRequest

describe('RequestAuthenticator.peek', () => {
  it('answers from the first backend that recognises the credential, without its secrets', async () => {
    const a = backend('a', { peek: null, authenticate: null })
    const b = backend('b', { peek: answer('u2'), authenticate: answer('u2') })
    const c = backend('c', { peek: answer('u3'), authenticate: answer('u3') })
    const auth = authenticator([a, b, c])
    const r = request()
    const user = auth.peek(r)
    assert.equal(user?.id, 'u2')
    assert.equal((user as Record<string, unknown>).passwordHash, undefined)
    assert.equal(r.user?.id, 'u2')
    assert.equal(auth.backendOf(r), b)
    assert.equal(auth.credential(r)?.id, 'u2-credential')
    assert.equal(c.calls.peek, 0, 'a later backend is not asked')
    // The request remembers it: neither way asks a backend again.
    assert.equal((await auth.authenticate(r))?.id, 'u2')
    assert.equal(auth.peek(r)?.id, 'u2')
    assert.equal(a.calls.peek + b.calls.peek, 2)
    assert.equal(a.calls.authenticate + b.calls.authenticate, 0)
  })

  it('cannot tell when a backend before the one that knows cannot: authenticate decides, in order', async () => {
    const slow = backend('slow', { peek: false, authenticate: answer('u1') })
    const fast = backend('fast', { peek: answer('u2'), authenticate: answer('u2') })
    const auth = authenticator([slow, fast])
    const r = request()
    assert.equal(auth.peek(r), undefined)
    assert.equal(fast.calls.peek, 0)
    assert.equal((await auth.authenticate(r))?.id, 'u1', 'the first backend wins, as without the shortcut')
    assert.equal(slow.calls.authenticate, 1)

    const unsure = backend('unsure', { peek: undefined, authenticate: null })
    const second = authenticator([unsure, fast])
    const r2 = request()
    assert.equal(second.peek(r2), undefined)
    assert.equal((await second.authenticate(r2))?.id, 'u2')
  })

  it('answers null when every backend finds no credential of its own', async () => {
    const a = backend('a', { peek: null, authenticate: null })
    const b = backend('b', { peek: null, authenticate: null })
    const auth = authenticator([a, b])
    const r = request()
    assert.equal(auth.peek(r), null)
    assert.equal(r.user, null)
    assert.equal(await auth.authenticate(r), null)
    assert.equal(a.calls.authenticate + b.calls.authenticate, 0)
  })
})
