import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { onFirstAddressProof, voidUnprovenCredentials } from './address-proof.js'
import type { BaseUser } from './user.js'

const user = { id: 1, email: 'ada@example.com' } as unknown as BaseUser

describe('what the first proof of an address voids', () => {
  it("runs every voider of the service, and only that service's", async () => {
    const service = {}
    const other = {}
    const ran: string[] = []
    onFirstAddressProof(service, async () => {
      ran.push('passkeys')
      return 2
    })
    onFirstAddressProof(service, async () => {
      ran.push('totp')
      return 1
    })
    onFirstAddressProof(other, async () => {
      ran.push('other')
      return 5
    })
    assert.equal(await voidUnprovenCredentials(service, user), 3)
    assert.deepEqual(ran, ['passkeys', 'totp'])
    assert.equal(await voidUnprovenCredentials({}, user), 0)
  })

  it('runs the others when one fails, then throws the first failure', async () => {
    const service = {}
    const ran: string[] = []
    onFirstAddressProof(service, async () => {
      throw new Error('storage down')
    })
    onFirstAddressProof(service, async () => {
      ran.push('second')
      return 1
    })
    await assert.rejects(voidUnprovenCredentials(service, user), /storage down/)
    assert.deepEqual(ran, ['second'])
  })
})
