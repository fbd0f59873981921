import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PasswordPolicyError } from '../kernel/errors.js'
import { normalizePassword, PasswordPolicy } from './password-policy.js'

function reasonOf(fn: () => void): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    assert.ok(err instanceof PasswordPolicyError)
    return err.reason
  }
}

describe('normalizePassword', () => {
  it('applies NFKC, so composed and decomposed accents are one password', () => {
    assert.equal(normalizePassword('caf\u00e9'), normalizePassword('cafe\u0301'))
    assert.equal(normalizePassword('\ufb01'), 'fi')
  })

  it('does not trim or change case', () => {
    assert.equal(normalizePassword(' pass phrase 123 '), ' pass phrase 123 ')
    assert.equal(normalizePassword('Abcdefgh12!'), 'Abcdefgh12!')
  })
})

describe('PasswordPolicy', () => {
  const policy = new PasswordPolicy()

  it('defaults to 8..128 code points', () => {
    assert.equal(policy.minLength, 8)
    assert.equal(policy.maxLength, 128)
  })

  it('refuses 7 code points and accepts 8', () => {
    assert.equal(
      reasonOf(() => policy.check('a'.repeat(7))),
      'too_short',
    )
    assert.equal(
      reasonOf(() => policy.check('a'.repeat(8))),
      undefined,
    )
  })

  it('accepts 128 code points and refuses 129', () => {
    assert.equal(
      reasonOf(() => policy.check('a'.repeat(128))),
      undefined,
    )
    assert.equal(
      reasonOf(() => policy.check('a'.repeat(129))),
      'too_long',
    )
  })

  it('counts code points, not UTF-16 units: 4 emoji are too short, 8 are enough', () => {
    assert.equal('\u{1F511}'.repeat(4).length, 8)
    assert.equal(
      reasonOf(() => policy.check('\u{1F511}'.repeat(4))),
      'too_short',
    )
    assert.equal(
      reasonOf(() => policy.check('\u{1F511}'.repeat(8))),
      undefined,
    )
    assert.equal(
      reasonOf(() => policy.check('\u{1F511}'.repeat(128))),
      undefined,
    )
    assert.equal(
      reasonOf(() => policy.check('\u{1F511}'.repeat(129))),
      'too_long',
    )
  })

  it('measures the NFKC form, the one that is hashed', () => {
    // 4 ligature code points become 8 letters once normalised.
    assert.equal(
      reasonOf(() => policy.check('\ufb01'.repeat(4))),
      undefined,
    )
  })

  it('accepts any characters, with no composition rules', () => {
    for (const password of ['correct horse battery staple', 'пароль-密码-🔑🔑🔑', '        ', 'aaaaaaaa']) {
      assert.equal(
        reasonOf(() => policy.check(password)),
        undefined,
        password,
      )
    }
  })

  it('names the limit in its messages', () => {
    const strict = new PasswordPolicy({ minLength: 15, maxLength: 64 })
    assert.throws(() => strict.check('a'.repeat(14)), { name: 'PasswordPolicyError', message: /15/ })
    assert.throws(() => strict.check('a'.repeat(65)), { name: 'PasswordPolicyError', message: /64/ })
    assert.doesNotThrow(() => strict.check('a'.repeat(15)))
  })

  it('throws TypeError for limits below the standards or out of order', () => {
    assert.throws(() => new PasswordPolicy({ minLength: 7 }), { name: 'TypeError', message: /never below 8/ })
    assert.throws(() => new PasswordPolicy({ maxLength: 63 }), { name: 'TypeError', message: /64/ })
    assert.throws(() => new PasswordPolicy({ minLength: 100, maxLength: 64 }), TypeError)
    assert.throws(() => new PasswordPolicy({ minLength: 8.5 }), TypeError)
    assert.doesNotThrow(() => new PasswordPolicy({ minLength: 64, maxLength: 64 }))
  })
})
