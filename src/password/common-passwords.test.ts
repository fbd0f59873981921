import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PasswordPolicyError } from '../kernel/errors.js'
import { isCommonPassword, loadCommonPasswords } from './common-passwords.js'
import { PasswordPolicy, userContextWords } from './password-policy.js'

async function reasonOf(promise: Promise<void>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (err) {
    assert.ok(err instanceof PasswordPolicyError, String(err))
    return err.reason
  }
}

describe('common passwords', () => {
  it('loads the zxcvbn-ts list once: tens of thousands of entries, one shared set', async () => {
    const [a, b] = await Promise.all([loadCommonPasswords(), loadCommonPasswords()])
    assert.equal(a, b)
    assert.ok(a.size > 40_000, `${a.size} entries`)
  })

  it('matches case-insensitively after NFKC', async () => {
    assert.equal(await isCommonPassword('iloveyou'), true)
    assert.equal(await isCommonPassword('ILoveYou'), true)
    assert.equal(await isCommonPassword('\uff29\uff4c\uff4f\uff56\uff45\uff59\uff4f\uff55'), true) // full-width
    assert.equal(await isCommonPassword('correct horse battery staple'), false)
  })
})

describe('PasswordPolicy.validate', () => {
  const policy = new PasswordPolicy({ contextWords: ['Acme Portal', 'acmecorp', 'abc'] })

  it('refuses common passwords of a valid length (a length-only policy let "password1" through)', async () => {
    for (const password of ['password1', 'Password1', 'qwertyuiop', '12345678', 'SUNSHINE1']) {
      assert.equal(await reasonOf(policy.validate(password)), 'common', password)
    }
    assert.equal(await reasonOf(policy.validate('correct horse battery staple')), undefined)
  })

  it('refuses words of the user own data and the configured context words', async () => {
    const words = userContextWords({ email: 'ada.lovelace@example.com', username: 'countess99' })
    assert.deepEqual(words, ['ada.lovelace', 'lovelace', 'countess99'])
    assert.equal(await reasonOf(policy.validate('Ada.Lovelace-2024', words)), 'context')
    assert.equal(await reasonOf(policy.validate('i am LOVELACE forever', words)), 'context')
    assert.equal(await reasonOf(policy.validate('countess99 rules all', words)), 'context')
    assert.equal(await reasonOf(policy.validate('my acmecorp password', words)), 'context')
    assert.equal(await reasonOf(policy.validate('ACME PORTAL login 1', words)), 'context')
    // 'abc' and 'ada' are shorter than 4 characters: ignored, or half of all passwords would fail.
    assert.equal(await reasonOf(policy.validate('abc ada tortoise lamp', words)), undefined)
  })

  it('can turn the common list off', async () => {
    assert.equal(await reasonOf(new PasswordPolicy({ blockCommon: false }).validate('password1')), undefined)
  })

  it('refuses bad options with a TypeError', () => {
    assert.throws(() => new PasswordPolicy({ contextWords: 'acme' as never }), TypeError)
    assert.throws(() => new PasswordPolicy({ blockCommon: 'yes' as never }), TypeError)
    assert.throws(() => new PasswordPolicy({ breached: { url: 'ftp://x' } }), TypeError)
    assert.throws(() => new PasswordPolicy({ breached: { timeoutMs: 5 } }), TypeError)
    assert.throws(() => new PasswordPolicy({ breached: { onError: 'maybe' as never } }), TypeError)
  })
})
