import assert from 'node:assert/strict'
import { randomBytes, scryptSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { hash as argon2Hash } from '@node-rs/argon2'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { BusyError, PasswordPolicyError } from '../kernel/errors.js'
import { Argon2idHasher } from './argon2-hasher.js'
import type { PasswordHasher } from './password-hasher.js'
import { PasswordManager } from './password-manager.js'
import { formatPhc } from './phc.js'
import { ScryptHasher } from './scrypt-hasher.js'

const DEFAULT_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$'

function assertCurrentArgon2(hash: string | undefined): asserts hash is string {
  assert.ok(hash?.startsWith(DEFAULT_PREFIX), `expected a current argon2id hash, got ${hash}`)
}

/** Wraps a hasher to count the work done through it, and the most calls in flight at once. */
function instrumented(inner: PasswordHasher) {
  const calls = { hash: 0, verify: 0, peak: 0 }
  let inFlight = 0
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++
    calls.peak = Math.max(calls.peak, inFlight)
    try {
      return await work()
    } finally {
      inFlight--
    }
  }
  const hasher: PasswordHasher = {
    id: inner.id,
    hash: (password) => {
      calls.hash++
      return track(() => inner.hash(password))
    },
    verify: (hash, password) => {
      calls.verify++
      return track(() => inner.verify(hash, password))
    },
    canVerify: (hash) => inner.canVerify(hash),
    needsRehash: (hash) => inner.needsRehash(hash),
  }
  return { hasher, calls }
}

describe('PasswordManager', () => {
  const passwords = new PasswordManager()

  it('hashes with argon2id at the default parameters and verifies without an upgrade', async () => {
    const stored = await passwords.hash('correct horse battery staple')
    assertCurrentArgon2(stored)
    assert.deepEqual(await passwords.verify('correct horse battery staple', stored), { valid: true })
    assert.equal(passwords.needsRehash(stored), false)
  })

  it('salts: two hashes of one password differ', async () => {
    const [a, b] = await Promise.all([passwords.hash('same password'), passwords.hash('same password')])
    assert.notEqual(a, b)
  })

  it('returns { valid: false } and no newHash for a wrong password', async () => {
    const stored = await passwords.hash('correct horse battery staple')
    assert.deepEqual(await passwords.verify('correct horse battery stapler', stored), { valid: false })
  })

  it('normalises to NFKC at set and verify time', async () => {
    const stored = await passwords.hash('caf\u00e9 au lait')
    assert.deepEqual(await passwords.verify('cafe\u0301 au lait', stored), { valid: true })
  })

  it('neither trims nor folds case', async () => {
    const spaced = await passwords.hash('pass phrase 123 ')
    assert.equal((await passwords.verify('pass phrase 123', spaced)).valid, false)
    const capital = await passwords.hash('Abcdefgh12!')
    assert.equal((await passwords.verify('abcdefgh12!', capital)).valid, false)
  })

  it('upgrades a bcrypt hash (cost 10) to argon2id on a successful verify', async () => {
    const manager = new PasswordManager({ schemes: ['argon2id', 'bcrypt'] })
    const legacy = await bcryptHash('imported password', 10)
    assert.equal(manager.needsRehash(legacy), true)

    const result = await manager.verify('imported password', legacy)
    assert.equal(result.valid, true)
    assertCurrentArgon2(result.newHash)
    assert.deepEqual(await manager.verify('imported password', result.newHash), { valid: true })

    assert.deepEqual(await manager.verify('wrong password', legacy), { valid: false })
  })

  it('upgrades a weaker but legal argon2id hash (m=12288, t=3) to the current parameters', async () => {
    const weaker = await argon2Hash('password1', { memoryCost: 12288, timeCost: 3, parallelism: 1 })
    assert.equal(passwords.needsRehash(weaker), true)
    const result = await passwords.verify('password1', weaker)
    assert.equal(result.valid, true)
    assertCurrentArgon2(result.newHash)
    assert.deepEqual(await passwords.verify('wrong password', weaker), { valid: false })
  })

  it('upgrades a scrypt hash, even one below the current minimums, when scrypt is listed after argon2id', async () => {
    const manager = new PasswordManager({
      schemes: ['argon2id', 'scrypt'],
      scrypt: { logN: 16, parallelization: 2 },
    })
    const scrypt = manager.hashers[1]
    assert.ok(scrypt instanceof ScryptHasher)
    assert.equal(scrypt.logN, 16)
    // Imported from an older system at N=2^10: verified with its own parameters, then replaced.
    const salt = randomBytes(16)
    const key = scryptSync('password1', salt, 32, { N: 2 ** 10, r: 8, p: 1 })
    const imported = formatPhc({ id: 'scrypt', params: { ln: 10, r: 8, p: 1 }, salt, hash: key })
    const result = await manager.verify('password1', imported)
    assert.equal(result.valid, true)
    assertCurrentArgon2(result.newHash)
    assert.deepEqual(await manager.verify('password2', imported), { valid: false })
  })

  it('hashes with scrypt when it comes first', async () => {
    const manager = new PasswordManager({ schemes: ['scrypt'] })
    const stored = await manager.hash('password1')
    assert.match(stored, /^\$scrypt\$ln=17,r=8,p=1\$/)
    assert.deepEqual(await manager.verify('password1', stored), { valid: true })
  })

  it('does not verify hashes of a scheme that is not listed', async () => {
    const legacy = await bcryptHash('imported password', 10)
    assert.deepEqual(await passwords.verify('imported password', legacy), { valid: false })
  })

  it('runs one dummy verification for an unknown user or an unrecognised hash, with a cached dummy hash', async () => {
    const { hasher, calls } = instrumented(new Argon2idHasher())
    const manager = new PasswordManager({ schemes: [hasher] })

    assert.deepEqual(await manager.verify('password1', null), { valid: false })
    assert.deepEqual(calls, { hash: 1, verify: 1, peak: 1 })

    assert.deepEqual(await manager.verify('password1', null), { valid: false })
    assert.deepEqual(await manager.verify('password1', 'not a hash'), { valid: false })
    assert.deepEqual(calls, { hash: 1, verify: 3, peak: 1 })

    // A wrong password for a known user costs the same single verification.
    const stored = await manager.hash('password1')
    calls.verify = 0
    assert.deepEqual(await manager.verify('password2', stored), { valid: false })
    assert.equal(calls.verify, 1)
  })

  it('does not cache a failed dummy hash', async () => {
    const inner = new Argon2idHasher()
    let failures = 1
    const flaky: PasswordHasher = {
      id: 'argon2id',
      hash: (password) => (failures-- > 0 ? Promise.reject(new Error('transient')) : inner.hash(password)),
      verify: (hash, password) => inner.verify(hash, password),
      canVerify: (hash) => inner.canVerify(hash),
      needsRehash: (hash) => inner.needsRehash(hash),
    }
    const manager = new PasswordManager({ schemes: [flaky] })
    await assert.rejects(manager.verify('password1', null), /transient/)
    assert.deepEqual(await manager.verify('password1', null), { valid: false })
  })

  it('sends all hashing and verifying through the queue', async () => {
    const { hasher, calls } = instrumented(new Argon2idHasher())
    const manager = new PasswordManager({ schemes: [hasher], concurrency: 1 })
    const stored = await manager.hash('password1')
    await Promise.all([
      manager.hash('password2'),
      manager.verify('password1', stored),
      manager.verify('password1', null),
      manager.verify('wrong', stored),
    ])
    assert.equal(calls.peak, 1)
    assert.equal(manager.queue.concurrency, 1)
  })

  it('rejects with BusyError when the queue is full', async () => {
    const manager = new PasswordManager({ concurrency: 1, maxQueued: 0 })
    const first = manager.hash('password1')
    await assert.rejects(manager.hash('password2'), BusyError)
    assertCurrentArgon2(await first)
  })

  it('with bcrypt first, refuses to hash over 72 bytes but still logs a valid user in', async () => {
    const manager = new PasswordManager({ schemes: ['bcrypt', 'argon2id'], bcrypt: { cost: 10 } })
    const long = 'p'.repeat(80)
    await assert.rejects(manager.hash(long), (err) => err instanceof PasswordPolicyError)
    // The upgrade to bcrypt is impossible, so it is skipped; the login itself succeeds.
    const stored = await argon2Hash(long)
    assert.deepEqual(await manager.verify(long, stored), { valid: true })
  })

  it('throws TypeError for bad scheme lists', () => {
    assert.throws(() => new PasswordManager({ schemes: [] }), TypeError)
    assert.throws(() => new PasswordManager({ schemes: ['md5' as 'bcrypt'] }), {
      name: 'TypeError',
      message: /unknown password scheme 'md5'; known schemes: 'argon2id', 'scrypt', 'bcrypt'/,
    })
    assert.throws(() => new PasswordManager({ schemes: ['argon2id', 'argon2id'] }), /listed twice/)
    assert.throws(() => new PasswordManager({ schemes: [{} as PasswordHasher] }), TypeError)
    assert.throws(() => new PasswordManager({ argon2: { memoryCost: 1024 } }), TypeError)
    assert.throws(() => new PasswordManager({ schemes: ['scrypt'], scrypt: { logN: 10 } }), TypeError)
    assert.throws(() => new PasswordManager({ concurrency: 0 }), TypeError)
  })

  it('exposes the resolved schemes in order', () => {
    const manager = new PasswordManager({ schemes: ['argon2id', 'scrypt', 'bcrypt'] })
    assert.deepEqual(
      manager.hashers.map((hasher) => hasher.id),
      ['argon2id', 'scrypt', 'bcrypt'],
    )
  })
})
