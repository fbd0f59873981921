import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { sha256 } from './digest.js'

describe('sha256', () => {
  it('gives the bytes createHash gives, in each encoding', () => {
    for (const text of ['', 'abc', 'é ü 😀', 'x'.repeat(5000)]) {
      for (const encoding of ['hex', 'base64url', 'base64'] as const) {
        assert.equal(sha256(text, encoding), createHash('sha256').update(text).digest(encoding))
      }
    }
  })

  it('matches the published test vector', () => {
    assert.equal(sha256('abc', 'hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})
