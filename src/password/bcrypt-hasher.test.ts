import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { PasswordPolicyError } from '../kernel/errors.js'
import { BcryptHasher } from './bcrypt-hasher.js'

describe('BcryptHasher', () => {
  const hasher = new BcryptHasher({ cost: 10 })

  it('defaults to cost 12 and refuses costs below 10', () => {
    assert.equal(new BcryptHasher().cost, 12)
    assert.throws(() => new BcryptHasher({ cost: 9 }), { name: 'TypeError', message: /10/ })
    assert.throws(() => new BcryptHasher({ cost: 32 }), TypeError)
    assert.throws(() => new BcryptHasher({ cost: 10.5 }), TypeError)
  })

  it('hashes as $2y$ (the same algorithm as $2b$) and verifies $2a$, $2b$ and $2y$', async () => {
    const stored = await hasher.hash('correct horse battery staple')
    assert.match(stored, /^\$2y\$10\$[./A-Za-z0-9]{53}$/)
    for (const variant of ['2a', '2b', '2y']) {
      const hash = `$${variant}${stored.slice(3)}`
      assert.equal(hasher.canVerify(hash), true)
      assert.equal(await hasher.verify(hash, 'correct horse battery staple'), true)
      assert.equal(await hasher.verify(hash, 'correct horse battery stapler'), false)
    }
  })

  it('refuses passwords over 72 bytes instead of truncating them', async () => {
    const long = `${'a'.repeat(72)}bcdefghi` // 80 bytes
    const prefixHash = await bcryptHash(long.slice(0, 72), 10)
    // Plain bcrypt would accept this: it reads only the first 72 bytes.
    assert.equal(await hasher.verify(prefixHash, long), false)
    assert.equal(await hasher.verify(prefixHash, long.slice(0, 72)), true)

    await assert.rejects(hasher.hash(long), (err) => {
      assert.ok(err instanceof PasswordPolicyError)
      assert.equal(err.reason, 'too_long_for_scheme')
      return true
    })
  })

  it('counts the limit in UTF-8 bytes, not characters', async () => {
    const accented = '\u00e9'.repeat(37) // 37 characters, 74 bytes
    await assert.rejects(hasher.hash(accented), PasswordPolicyError)
    assert.match(await hasher.hash('\u00e9'.repeat(36)), /^\$2y\$10\$/)
  })

  it('returns false, never throws, on malformed hashes', async () => {
    const stored = await hasher.hash('password1')
    for (const hash of ['', 'garbage', stored.slice(0, -1), `$2x${stored.slice(3)}`, '$argon2id$v=19$m=1']) {
      assert.equal(hasher.canVerify(hash), false, hash)
      assert.equal(await hasher.verify(hash, 'password1'), false, hash)
    }
  })

  it('flags a hash of another cost for rehash', async () => {
    const stored = await hasher.hash('password1')
    assert.equal(hasher.needsRehash(stored), false)
    assert.equal(new BcryptHasher({ cost: 11 }).needsRehash(stored), true)
    assert.equal(hasher.needsRehash('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'), true)
  })
})
