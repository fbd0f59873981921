import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadOnce } from './load-once.js'

describe('loadOnce', () => {
  it('loads on the first call only, and every call shares that promise', async () => {
    let loads = 0
    const load = loadOnce(async () => {
      loads += 1
      return { value: loads }
    })
    assert.equal(loads, 0, 'nothing is loaded before the first call')
    const [a, b] = await Promise.all([load(), load()])
    assert.equal(loads, 1)
    assert.equal(a, b)
    assert.equal(await load(), a)
    assert.equal(loads, 1)
  })
})
