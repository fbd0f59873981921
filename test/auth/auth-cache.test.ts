/**
 * The AuthCache itself, without a bus (a single instance): its bound, its expiry, its invalidations, and
 * the ticket that keeps a read begun before an invalidation out of the cache.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AuthCache } from '../../src/auth/auth-cache.js'
import { parseInvalidation } from '../../src/auth/invalidation-bus.js'

const NOW = 1_000_000

describe('AuthCache', () => {
  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new AuthCache({ maxEntries: 2 })
    cache.set('a', 'u1', 'A', NOW + 60_000, NOW, cache.ticket())
    cache.set('b', 'u2', 'B', NOW + 60_000, NOW, cache.ticket())
    assert.equal(cache.get('a', NOW), 'A') // a is now the most recent
    cache.set('c', 'u3', 'C', NOW + 60_000, NOW, cache.ticket())
    assert.equal(cache.size, 2)
    assert.equal(cache.get('b', NOW), undefined)
    assert.equal(cache.get('a', NOW), 'A')
    assert.equal(cache.get('c', NOW), 'C')
  })

  it('never drops for room an entry used at least once every maxEntries / 2 new entries', () => {
    const cache = new AuthCache({ maxEntries: 8 })
    cache.set('hot', 'u0', 'H', NOW + 60_000, NOW, cache.ticket())
    for (let i = 0; i < 100; i++) {
      cache.set(`k${i}`, `u${i + 1}`, i, NOW + 60_000, NOW, cache.ticket())
      if (i % 4 === 3) assert.equal(cache.get('hot', NOW), 'H', `dropped after ${i + 1} new entries`)
    }
    assert.equal(cache.size, 8)
    // An entry used less often than that goes, as the least recently used.
    assert.equal(cache.get('k0', NOW), undefined)
  })

  it('trusts an entry until the TTL or the credential end, whichever comes first', () => {
    const cache = new AuthCache({ ttlSeconds: 5 })
    cache.set('short', 'u1', 'S', NOW + 2000, NOW, cache.ticket())
    cache.set('long', 'u1', 'L', NOW + 60_000, NOW, cache.ticket())
    assert.equal(cache.get('short', NOW + 1999), 'S')
    assert.equal(cache.get('short', NOW + 2000), undefined)
    assert.equal(cache.get('long', NOW + 4999), 'L')
    assert.equal(cache.get('long', NOW + 5000), undefined)
    cache.set('ended', 'u1', 'E', NOW, NOW, cache.ticket())
    assert.equal(cache.get('ended', NOW), undefined)
  })

  it('drops a credential, every credential of a user, or everything', async () => {
    const cache = new AuthCache()
    for (const [key, user] of [
      ['s1', 'u1'],
      ['s2', 'u1'],
      ['s3', 'u2'],
    ] as const) {
      cache.set(key, user, key, NOW + 60_000, NOW, cache.ticket())
    }
    await cache.revoke({ kind: 'credential', id: 's3' })
    assert.equal(cache.get('s3', NOW), undefined)
    assert.equal(cache.get('s1', NOW), 's1')
    cache.set('s3', 'u2', 's3', NOW + 60_000, NOW, cache.ticket())
    await cache.revoke({ kind: 'user', id: 'u1' })
    assert.equal(cache.get('s1', NOW), undefined)
    assert.equal(cache.get('s2', NOW), undefined)
    assert.equal(cache.get('s3', NOW), 's3')
    await cache.revoke({ kind: 'all' })
    assert.equal(cache.size, 0)
  })

  it('drops an entry stored under another key than its credential id when that id is revoked', async () => {
    const cache = new AuthCache()
    // A JWT: found by its text, revoked by its jti.
    cache.set('header.payload.signature', 'u1', 'jwt', NOW + 60_000, NOW, cache.ticket(), 'jti-1')
    cache.set('s2', 'u1', 's2', NOW + 60_000, NOW, cache.ticket())
    assert.equal(cache.get('header.payload.signature', NOW), 'jwt')
    await cache.revoke({ kind: 'credential', id: 'jti-1' })
    assert.equal(cache.get('header.payload.signature', NOW), undefined)
    assert.equal(cache.get('s2', NOW), 's2')
    // Dropped with its user too, and its id then names nothing stale: a new entry under it is revocable.
    cache.set('other.token.text', 'u1', 'jwt2', NOW + 60_000, NOW, cache.ticket(), 'jti-2')
    await cache.revoke({ kind: 'user', id: 'u1' })
    assert.equal(cache.get('other.token.text', NOW), undefined)
    cache.set('third.token.text', 'u1', 'jwt3', NOW + 60_000, NOW, cache.ticket(), 'jti-2')
    await cache.revoke({ kind: 'credential', id: 'jti-2' })
    assert.equal(cache.get('third.token.text', NOW), undefined)
    assert.equal(cache.size, 0)
  })

  it('does not store a value read before an invalidation', async () => {
    const cache = new AuthCache()
    const ticket = cache.ticket() // the database read begins
    await cache.revoke({ kind: 'user', id: 'someone else' }) // a revocation lands meanwhile
    cache.set('s1', 'u1', 'stale', NOW + 60_000, NOW, ticket)
    assert.equal(cache.get('s1', NOW), undefined)
  })

  it('refuses bad sizes and TTLs', () => {
    assert.throws(() => new AuthCache({ maxEntries: 0 }), /cache\.maxEntries/)
    assert.throws(() => new AuthCache({ maxEntries: 1.5 }), /cache\.maxEntries/)
    assert.throws(() => new AuthCache({ ttlSeconds: 0 }), /cache\.ttlSeconds/)
    assert.throws(() => new AuthCache({ ttlSeconds: 61 }), /cache\.ttlSeconds/)
    assert.throws(() => new AuthCache({ ttlSeconds: Number.NaN }), /cache\.ttlSeconds/)
  })

  it('reads a malformed bus message as "drop everything"', () => {
    assert.deepEqual(parseInvalidation('{"kind":"user","id":"42"}'), { kind: 'user', id: '42' })
    assert.deepEqual(parseInvalidation('{"kind":"credential","id":"x"}'), { kind: 'credential', id: 'x' })
    for (const bad of ['', 'null', '[]', '{"kind":"user"}', '{"kind":"user","id":42}', 'not json']) {
      assert.deepEqual(parseInvalidation(bad), { kind: 'all' }, bad)
    }
  })
})
