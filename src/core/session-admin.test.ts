import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeUserAgent, sessionHandle } from './session-admin.js'

describe('describeUserAgent', () => {
  const cases: Array<[string | null, string | null, string | null]> = [
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome',
      'Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      'Edge',
      'Windows',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
      'Safari',
      'macOS',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
      'Chrome',
      'Android',
    ],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) FxiOS/133.0 Mobile/15E148', 'Firefox', 'iOS'],
    ['curl/8.5.0', 'curl', null],
    ['something else', null, null],
    [null, null, null],
  ]
  for (const [ua, browser, os] of cases) {
    it(`${browser ?? 'unknown'} on ${os ?? 'unknown'}: ${String(ua).slice(0, 40)}`, () => {
      assert.deepEqual(describeUserAgent(ua), { browser, os })
    })
  }
})

describe('sessionHandle', () => {
  it('is stable, short, and reveals neither the stored key nor a prefix of it', () => {
    const key = 'a'.repeat(64)
    const handle = sessionHandle(key)
    assert.match(handle, /^s_[A-Za-z0-9_-]{22}$/)
    assert.equal(sessionHandle(key), handle)
    assert.notEqual(sessionHandle('b'.repeat(64)), handle)
    assert.ok(!key.includes(handle.slice(2, 8)))
  })
})
