import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Algorithm } from '@node-rs/argon2'
import { hash as argon2Hash } from '@node-rs/argon2'
import { Argon2idHasher } from './argon2-hasher.js'

// The package's const enums cannot be read under isolatedModules.
const ARGON2I: Algorithm.Argon2i = 1
const DEFAULT_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$'

describe('Argon2idHasher', () => {
  const hasher = new Argon2idHasher()

  it('hashes with the default parameters m=19456, t=2, p=1 as a PHC string', async () => {
    const stored = await hasher.hash('correct horse battery staple')
    assert.ok(stored.startsWith(DEFAULT_PREFIX), stored)
    assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.equal(await hasher.verify(stored, 'correct horse battery staple'), true)
    assert.equal(await hasher.verify(stored, 'correct horse battery stapler'), false)
    assert.equal(hasher.needsRehash(stored), false)
  })

  it('salts every hash, so two hashes of one password differ', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')])
    assert.notEqual(a, b)
  })

  it('verifies a hash made with other legal parameters and flags it for rehash', async () => {
    const weaker = await argon2Hash('password1', { memoryCost: 12288, timeCost: 3, parallelism: 1 })
    assert.equal(hasher.canVerify(weaker), true)
    assert.equal(await hasher.verify(weaker, 'password1'), true)
    assert.equal(hasher.needsRehash(weaker), true)
  })

  it('returns false, never throws, on malformed or foreign hashes', async () => {
    const stored = await hasher.hash('password1')
    const argon2i = await argon2Hash('password1', { algorithm: ARGON2I })
    const bad = [
      '',
      'garbage',
      // 41 characters of base64: a length no encoding of whole bytes has (any other cut can, by chance,
      // end on a canonical encoding of a shorter hash, and this test flaked once in CI).
      stored.slice(0, -2),
      stored.replace('m=19456', 'm=abc'),
      stored.replace('t=2', 't=0'),
      argon2i,
      '$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA',
    ]
    for (const hash of bad) {
      assert.equal(hasher.canVerify(hash), false, hash)
      assert.equal(await hasher.verify(hash, 'password1'), false, hash)
      assert.equal(hasher.needsRehash(hash), true, hash)
    }
  })

  it('answers for the hash asked about, whichever hash was asked about before (it keeps the last parse)', async () => {
    const current = await hasher.hash('password1')
    const weaker = await argon2Hash('password1', { memoryCost: 12288, timeCost: 3, parallelism: 1 })
    const malformed = current.replace('t=2', 't=0')
    const expected: Array<[string, boolean, boolean]> = [
      [current, true, false],
      [weaker, true, true],
      [malformed, false, true],
    ]
    // Every order of two different hashes, and each one asked twice in a row.
    for (const [a, canA, staleA] of expected) {
      for (const [b, canB, staleB] of expected) {
        assert.equal(hasher.canVerify(a), canA)
        assert.equal(hasher.needsRehash(a), staleA)
        assert.equal(hasher.needsRehash(b), staleB)
        assert.equal(hasher.canVerify(b), canB)
        assert.equal(await hasher.verify(b, 'password1'), canB)
        assert.equal(hasher.needsRehash(a), staleA)
      }
    }
  })

  it('accepts the ASVS 5.0 minimum combinations', () => {
    assert.doesNotThrow(() => new Argon2idHasher({ timeCost: 1, memoryCost: 47104 }))
    assert.doesNotThrow(() => new Argon2idHasher({ timeCost: 2, memoryCost: 19456 }))
    assert.doesNotThrow(() => new Argon2idHasher({ timeCost: 3, memoryCost: 12288 }))
    assert.doesNotThrow(() => new Argon2idHasher({ timeCost: 5, memoryCost: 12288, parallelism: 4 }))
  })

  it('throws TypeError below the ASVS 5.0 minimums, saying what to use instead', () => {
    assert.throws(() => new Argon2idHasher({ timeCost: 1, memoryCost: 47103 }), {
      name: 'TypeError',
      message: /use memoryCost >= 47104/,
    })
    assert.throws(() => new Argon2idHasher({ memoryCost: 19455 }), { name: 'TypeError', message: /19456/ })
    assert.throws(() => new Argon2idHasher({ timeCost: 3, memoryCost: 12287 }), {
      name: 'TypeError',
      message: /12288/,
    })
    assert.throws(() => new Argon2idHasher({ parallelism: 0 }), TypeError)
    assert.throws(() => new Argon2idHasher({ timeCost: 0 }), TypeError)
    assert.throws(() => new Argon2idHasher({ memoryCost: 19456.5 }), TypeError)
    assert.throws(() => new Argon2idHasher({ timeCost: Number.NaN }), TypeError)
  })

  it('flags a hash for rehash when m, t or p differ from its own', async () => {
    const stronger = new Argon2idHasher({ memoryCost: 20480 })
    const stored = await hasher.hash('password1')
    assert.equal(stronger.needsRehash(stored), true)
    assert.equal(new Argon2idHasher({ timeCost: 3 }).needsRehash(stored), true)
    assert.equal(new Argon2idHasher({ parallelism: 2 }).needsRehash(stored), true)
    assert.equal(new Argon2idHasher().needsRehash(stored), false)
  })
})
