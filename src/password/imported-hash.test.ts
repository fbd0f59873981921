import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { hashPassword as betterAuthHash } from 'better-auth/crypto'
import { Argon2idHasher } from './argon2-hasher.js'
import { BcryptHasher } from './bcrypt-hasher.js'
import { importedHash } from './imported-hash.js'
import { ScryptHasher } from './scrypt-hasher.js'

const PASSWORD = 'correct horse battery staple'

describe('importedHash', () => {
  it("rewrites better-auth's salt:key scrypt as a PHC string that ScryptHasher verifies", async () => {
    const foreign = await betterAuthHash(PASSWORD)
    const accepted = importedHash(foreign)
    assert.ok('hash' in accepted)
    assert.equal(accepted.scheme, 'scrypt')
    assert.match(accepted.hash, /^\$scrypt\$ln=14,r=16,p=1\$[A-Za-z0-9+/]{43}\$[A-Za-z0-9+/]{86}$/)
    const scrypt = new ScryptHasher()
    assert.equal(await scrypt.verify(accepted.hash, PASSWORD), true)
    assert.equal(await scrypt.verify(accepted.hash, 'Correct horse battery staple'), false)
    // better-auth normalises with NFKC as we do: a password typed in another Unicode form still matches.
    const nfkc = await betterAuthHash('ｐａｓｓｗｏｒｄ-ﬁ')
    const converted = importedHash(nfkc)
    assert.ok('hash' in converted)
    assert.equal(await scrypt.verify(converted.hash, 'password-fi'), true)
  })

  it('keeps argon2id, bcrypt ($2a$, $2b$, $2y$) and scrypt PHC hashes as they are', async () => {
    const argon2 = await new Argon2idHasher({ memoryCost: 65536, timeCost: 3, parallelism: 4 }).hash(PASSWORD)
    const bcrypt = (await bcryptHash(PASSWORD, 10)).slice(4)
    const scrypt = await new ScryptHasher().hash(PASSWORD)
    assert.deepEqual(importedHash(argon2), { hash: argon2, scheme: 'argon2id' })
    for (const variant of ['2a', '2b', '2y']) {
      const hash = `$${variant}$${bcrypt}`
      assert.deepEqual(importedHash(hash), { hash, scheme: 'bcrypt' })
      assert.equal(await new BcryptHasher({ cost: 10 }).verify(hash, PASSWORD), true)
    }
    assert.deepEqual(importedHash(` ${scrypt}\n`), { hash: scrypt, scheme: 'scrypt' })
  })

  it('refuses what no built-in scheme can verify, saying why, without echoing the hash', () => {
    const cases: [string, RegExp][] = [
      ['', /no password hash/],
      ['hunter2', /plain-text passwords are never imported/],
      ['pbkdf2_sha256$600000$salt$hash', /not a password hash/],
      ['$pbkdf2-sha256$29000$c2FsdA$aGFzaA', /unsupported hash scheme 'pbkdf2-sha256'/],
      ['$6$rounds=5000$salt$hash', /unsupported hash scheme '6'/],
      ['$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g', /argon2i hashes are not supported/],
      ['$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g', /argon2d hashes are not supported/],
      ['$argon2id$v=19$m=99999999,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g', /unusable parameters/],
      ['$scrypt$ln=25,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /unusable parameters/],
      [`$2x$10$${'a'.repeat(53)}`, /'\$2x\$' hashes cannot be verified/],
      ['$2b$10$short', /malformed '2b' hash/],
      ['0123456789abcdef0123456789abcdef:abcd', /not a password hash/],
    ]
    for (const [input, reason] of cases) {
      const result = importedHash(input)
      assert.ok('refused' in result, `${input} refused`)
      assert.match(result.refused, reason, input)
      if (input.length > 8) assert.ok(!result.refused.includes(input), 'the hash is not echoed')
    }
  })
})
