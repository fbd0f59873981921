import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hash as argon2Hash } from '@node-rs/argon2'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { formatPhc, parsePhc } from './phc.js'

describe('parsePhc', () => {
  it('parses an argon2id string into id, version, params, salt and hash', () => {
    const phc = parsePhc('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g')
    assert.deepEqual(phc, {
      id: 'argon2id',
      version: 19,
      params: { m: 19456, t: 2, p: 1 },
      salt: Buffer.from('somesalt'),
      hash: Buffer.from('hashhash'),
    })
  })

  it('round-trips a real argon2id hash', async () => {
    const stored = await argon2Hash('password')
    const phc = parsePhc(stored)
    assert.equal(phc?.id, 'argon2id')
    assert.equal(phc.salt?.byteLength, 16)
    assert.equal(phc.hash?.byteLength, 32)
    assert.equal(formatPhc(phc), stored)
  })

  it('accepts the optional segments being absent', () => {
    assert.deepEqual(parsePhc('$plain'), { id: 'plain', params: {} })
    assert.deepEqual(parsePhc('$scrypt$ln=17,r=8,p=1'), { id: 'scrypt', params: { ln: 17, r: 8, p: 1 } })
    assert.deepEqual(parsePhc('$x$c2FsdA'), { id: 'x', params: {}, salt: Buffer.from('salt') })
    assert.deepEqual(parsePhc('$x$v=1$c2FsdA'), {
      id: 'x',
      version: 1,
      params: {},
      salt: Buffer.from('salt'),
    })
  })

  it('keeps non-decimal values, and decimals with leading zeros, as strings so they round-trip', () => {
    const text = '$x$alg=sha256,n=012,k=-3,f=1.5'
    const phc = parsePhc(text)
    assert.deepEqual(phc?.params, { alg: 'sha256', n: '012', k: -3, f: '1.5' })
    assert.equal(formatPhc(phc), text)
  })

  it('recognises bcrypt $2a$, $2b$ and $2y$ as id bcrypt with a cost param, and round-trips them', async () => {
    const stored = await bcryptHash('password', 10)
    for (const variant of ['2a', '2b', '2y']) {
      const text = `$${variant}${stored.slice(3)}`
      const phc = parsePhc(text)
      assert.equal(phc?.id, 'bcrypt')
      assert.deepEqual(phc.params, { variant, cost: 10 })
      assert.equal(phc.salt?.byteLength, 16)
      assert.equal(phc.hash?.byteLength, 23)
      assert.equal(formatPhc(phc), text)
    }
  })

  it('returns null for garbage and never throws', async () => {
    const bcrypt = await bcryptHash('password', 10)
    const garbage: unknown[] = [
      undefined,
      null,
      42,
      {},
      ['$argon2id'],
      '',
      'password',
      '$',
      '$$',
      '$argon2id$',
      '$argon2id$$',
      ' $argon2id$v=19$m=1$c2FsdA$aGFzaA',
      '$ARGON2ID$v=19',
      '$argon2id$v=19$m=1,m=2$c2FsdA$aGFzaA', // duplicate parameter
      '$argon2id$v=19$m=,t=2$c2FsdA$aGFzaA', // empty value
      '$argon2id$v=19$=1$c2FsdA$aGFzaA', // empty name
      '$argon2id$v=19$m=1,,t=2$c2FsdA$aGFzaA',
      '$argon2id$v=19$m=1$c2Fsd*$aGFzaA', // not base64
      '$argon2id$v=19$m=1$c2FsdA==$aGFzaA', // padded
      '$argon2id$v=19$m=1$c2FsdB$aGFzaA', // stray trailing bits
      '$argon2id$v=19$m=1$c2FsdAx$aGFzaA', // impossible length
      '$argon2id$v=19$m=1$c2FsdA$aGFzaA$extra',
      '$argon2id$v=19$m=1$c2FsdA$aGFzaA$',
      `$argon2id$v=19$m=1$${'A'.repeat(5000)}`,
      '$2x$10$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234', // buggy variant, refused
      `${bcrypt.slice(0, 4)}03${bcrypt.slice(6)}`, // cost below 4
      `${bcrypt.slice(0, 4)}32${bcrypt.slice(6)}`, // cost above 31
      bcrypt.slice(0, -1),
      `${bcrypt}x`,
      `${bcrypt.slice(0, -1)}!`,
      '$2b$10$',
    ]
    for (const input of garbage) {
      assert.equal(parsePhc(input), null, `expected null for ${JSON.stringify(input)}`)
    }
  })
})

describe('formatPhc', () => {
  it('writes unpadded standard base64', () => {
    const text = formatPhc({
      id: 'x',
      params: { n: 1 },
      salt: Buffer.from('salt!'),
      hash: Buffer.from([0xfb, 0xff]),
    })
    assert.equal(text, '$x$n=1$c2FsdCE$+/8')
  })

  it('throws TypeError for values that cannot be written', () => {
    const salt = Buffer.from('salt')
    assert.throws(() => formatPhc({ id: 'Bad Id', params: {} }), TypeError)
    assert.throws(() => formatPhc({ id: 'x', params: { 'bad name': 1 } }), TypeError)
    assert.throws(() => formatPhc({ id: 'x', params: { n: 'a,b' } }), TypeError)
    assert.throws(() => formatPhc({ id: 'x', params: { n: 1.5 } }), TypeError)
    assert.throws(() => formatPhc({ id: 'x', params: {}, hash: salt }), TypeError)
    assert.throws(
      () => formatPhc({ id: 'bcrypt', params: { variant: '2b', cost: 10 }, salt, hash: salt }),
      TypeError,
    )
    assert.throws(() => formatPhc({ id: 'bcrypt', params: { variant: '2x', cost: 10 } }), TypeError)
  })
})
