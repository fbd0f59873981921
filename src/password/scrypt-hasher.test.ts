import assert from 'node:assert/strict'
import { randomBytes, scryptSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { formatPhc, parsePhc } from './phc.js'
import { ScryptHasher } from './scrypt-hasher.js'

/** A cheap, pre-ASVS hash as an old system might have stored it; the hasher must still verify it. */
function legacyHash(password: string, ln = 10): string {
  const salt = randomBytes(16)
  const hash = scryptSync(password, salt, 32, { N: 2 ** ln, r: 8, p: 1 })
  return formatPhc({ id: 'scrypt', params: { ln, r: 8, p: 1 }, salt, hash })
}

describe('ScryptHasher', () => {
  const hasher = new ScryptHasher()

  it('round-trips with the defaults N=2^17, r=8, p=1', async () => {
    const stored = await hasher.hash('correct horse battery staple')
    assert.match(stored, /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.equal(await hasher.verify(stored, 'correct horse battery staple'), true)
    assert.equal(await hasher.verify(stored, 'correct horse battery stapler'), false)
    assert.equal(hasher.needsRehash(stored), false)
  })

  it('salts every hash, so two hashes of one password differ', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')])
    assert.notEqual(a, b)
  })

  it('verifies with the parameters stored in the hash, and flags other parameters for rehash', async () => {
    const stored = legacyHash('password1')
    assert.equal(await hasher.verify(stored, 'password1'), true)
    assert.equal(await hasher.verify(stored, 'password2'), false)
    assert.equal(hasher.needsRehash(stored), true)
    assert.equal(new ScryptHasher({ logN: 16, parallelization: 2 }).needsRehash(stored), true)
  })

  it('returns false, never throws, on malformed or tampered hashes', async () => {
    const stored = legacyHash('password1')
    const phc = parsePhc(stored)!
    const shortKey = formatPhc({ ...phc, hash: phc.hash!.subarray(0, 8) })
    const otherLength = formatPhc({ ...phc, hash: Buffer.concat([phc.hash!, Buffer.alloc(4)]) })
    const bad = [
      '',
      'garbage',
      stored.replace('ln=10', 'ln=40'),
      stored.replace('ln=10', 'ln=0'),
      stored.replace('r=8', 'r=x'),
      stored.replace('$scrypt$', '$scrypt$v=1$'),
      stored.slice(0, stored.lastIndexOf('$')),
      shortKey,
      '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    ]
    for (const hash of bad) {
      assert.equal(hasher.canVerify(hash), false, hash)
      assert.equal(await hasher.verify(hash, 'password1'), false, hash)
      assert.equal(hasher.needsRehash(hash), true, hash)
    }
    // A well-formed hash whose key length differs is compared on equal lengths and simply fails.
    assert.equal(hasher.canVerify(otherLength), true)
    assert.equal(await hasher.verify(otherLength, 'password1'), false)
  })

  it('throws TypeError below the ASVS 5.0 minimums', () => {
    assert.doesNotThrow(() => new ScryptHasher({ logN: 16, parallelization: 2 }))
    assert.throws(() => new ScryptHasher({ logN: 16 }), { name: 'TypeError', message: /logN >= 17/ })
    assert.throws(() => new ScryptHasher({ logN: 15, parallelization: 2 }), TypeError)
    assert.throws(() => new ScryptHasher({ logN: 14, parallelization: 3 }), TypeError)
    assert.throws(() => new ScryptHasher({ blockSize: 4 }), { name: 'TypeError', message: /blockSize >= 8/ })
    assert.throws(() => new ScryptHasher({ parallelization: 0 }), TypeError)
    assert.throws(() => new ScryptHasher({ logN: 17.5 }), TypeError)
    assert.throws(() => new ScryptHasher({ logN: 30 }), TypeError) // 1 TiB per hash
  })
})
