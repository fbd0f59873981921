import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { createDecoder, createVerifier } from 'fast-jwt'
import { APPLE_ISSUER, AppleClientSecret } from './apple.js'
import { OAuthProvider } from './providers.js'

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const publicKey = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const key = { teamId: 'TEAM123456', keyId: 'KEY7654321', privateKey }

describe('the Apple client secret', () => {
  it('is an ES256 JWT from the team for the client, to Apple, verified with the public key', () => {
    const now = Date.UTC(2030, 0, 1)
    const jwt = new AppleClientSecret('com.example.web', key, () => now).current()
    const claims = createVerifier({ key: publicKey, algorithms: ['ES256'], clockTimestamp: now })(jwt)
    assert.deepEqual(claims, {
      iss: 'TEAM123456',
      sub: 'com.example.web',
      aud: APPLE_ISSUER,
      iat: now / 1000,
      exp: now / 1000 + 3600,
    })
    const { header } = createDecoder({ complete: true })(jwt) as { header: Record<string, unknown> }
    assert.equal(header.alg, 'ES256')
    assert.equal(header.kid, 'KEY7654321')
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
    assert.throws(() =>
      createVerifier({ key: otherKey.export({ type: 'spki', format: 'pem' }).toString() })(jwt),
    )
  })

  it('is renewed before it expires, and kept until then', () => {
    let now = Date.UTC(2030, 0, 1)
    const secret = new AppleClientSecret('com.example.web', key, () => now)
    const first = secret.current()
    now += 54 * 60 * 1000
    assert.equal(secret.current(), first)
    now += 2 * 60 * 1000
    const second = secret.current()
    assert.notEqual(second, first)
    const claims = createVerifier({ key: publicKey, clockTimestamp: now })(second) as { exp: number }
    assert.equal(claims.exp, now / 1000 + 3600)
  })

  it('refuses at once a key that cannot sign, and an Apple preset without a key', () => {
    assert.throws(() => new AppleClientSecret('c', { ...key, privateKey: 'not a key' }), TypeError)
    const uri = 'https://app.example.com/oauth/apple/callback'
    assert.throws(() => new OAuthProvider('apple', { clientId: 'c' }, uri), /teamId/)
    assert.throws(
      () => new OAuthProvider('apple', { clientId: 'c', teamId: 'T', keyId: 'K' }, uri),
      /privateKey/,
    )
    const apple = new OAuthProvider('apple', { clientId: 'c', ...key }, uri)
    assert.equal(apple.formPost, true)
  })
})
