/**
 * The conformance tests of `PasskeyRepository`: passkeys per user (another user's invisible), unique
 * credentials, the compare-and-set counter, removal decided under a lock (refused when it would leave no
 * way to log in), challenges taken once (exactly one of concurrent takes wins), bound to their purpose and
 * user, expiring, and swept.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { keepsAWayToLogIn, type RemainingLogins } from '../core/login-methods.js'
import type { PasskeyRecord, PasskeyRepository } from '../core/passkey-repository.js'
import type { Id } from '../core/user.js'
import {
  type ConformanceTarget,
  FAKE_PASSWORD_HASH,
  type Fixture,
  type RepositoryPorts,
  required,
  useStorage,
} from './conformance-target.js'

const RACERS = 12
const LIFETIME = 300_000

/** Registers the passkey tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function passkeyRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): PasskeyRepository => required(fixture.repos().passkeyRepository, 'passkeyRepository')
  const now = (): number => fixture.clock.now()
  let n = 0
  const newUser = async (): Promise<Id> => {
    const users = required(fixture.repos().userRepository, 'userRepository')
    const user = await users.insert({
      email: `passkey${++n}.${fixture.tag}@example.com`,
      passwordHash: FAKE_PASSWORD_HASH,
      isActive: true,
      isVerified: true,
    })
    return user.id
  }
  const record = (userId: Id, overrides: Partial<PasskeyRecord> = {}): PasskeyRecord => {
    const credentialId = randomBytes(48).toString('base64url')
    return {
      // The port's contract: the id is the hex SHA-256 of the credential id.
      id: createHash('sha256').update(credentialId).digest('hex'),
      userId,
      credentialId,
      publicKey: randomBytes(77).toString('base64url'),
      counter: 0,
      transports: ['internal', 'hybrid'],
      name: 'Laptop',
      createdAt: now(),
      lastUsedAt: null,
      ...overrides,
    }
  }

  describe('PasskeyRepository', () => {
    it('stores passkeys per user and finds them by credential id', async () => {
      const [alice, bob] = [await newUser(), await newUser()]
      const first = record(alice)
      const second = record(alice, { createdAt: now() + 1, transports: [] })
      await store().insert(first)
      await store().insert(second)
      await store().insert(record(bob))
      assert.deepEqual(await store().findByCredentialId(first.credentialId), first)
      assert.equal(await store().findByCredentialId(randomBytes(48).toString('base64url')), null)
      assert.deepEqual(await store().listForUser(alice), [first, second])
      assert.equal((await store().listForUser(bob)).length, 1)
    })

    it('refuses a credential stored twice with ConflictError', async () => {
      const user = await newUser()
      const passkey = record(user)
      await store().insert(passkey)
      await assert.rejects(store().insert({ ...passkey, name: 'Copy' }), { code: 'ERR_CONFLICT' })
    })

    it("renames and deletes only the owner's passkey", async () => {
      const [owner, other] = [await newUser(), await newUser()]
      const passkey = record(owner)
      await store().insert(passkey)
      assert.equal(await store().rename(other, passkey.id, 'Mine'), null)
      assert.equal(await store().deleteIf(other, passkey.id, () => true), 'missing')
      assert.equal((await store().rename(owner, passkey.id, 'Phone'))?.name, 'Phone')
      assert.equal((await store().rename(owner, passkey.id, 'Phone'))?.name, 'Phone')
      const seen: RemainingLogins[] = []
      const allow = (remaining: RemainingLogins) => {
        seen.push(remaining)
        return true
      }
      assert.equal(await store().deleteIf(owner, passkey.id, () => false), 'refused')
      assert.equal((await store().listForUser(owner)).length, 1)
      assert.equal(await store().deleteIf(owner, passkey.id, allow), 'deleted')
      assert.deepEqual(seen, [{ passwordHash: FAKE_PASSWORD_HASH, otherProviders: [], passkeys: 0 }])
      assert.equal(await store().deleteIf(owner, passkey.id, allow), 'missing')
      assert.deepEqual(await store().listForUser(owner), [])
    })

    it("concurrent removals of a passwordless user's passkeys always leave one", async () => {
      const users = required(fixture.repos().userRepository, 'userRepository')
      const owner = (
        await users.insert({
          email: `passkey${++n}.only.${fixture.tag}@example.com`,
          passwordHash: '!oauth',
          isActive: true,
          isVerified: true,
        })
      ).id
      const passkeys = Array.from({ length: 5 }, () => record(owner))
      for (const passkey of passkeys) await store().insert(passkey)
      // The rule of the service: a usable password, a provider or a passkey must remain.
      const lastOneStays = (remaining: RemainingLogins) => keepsAWayToLogIn(remaining, { passkeyLogin: true })
      const outcomes = await Promise.all(
        passkeys.map((passkey) => store().deleteIf(owner, passkey.id, lastOneStays)),
      )
      assert.equal((await store().listForUser(owner)).length, 1, `outcomes: ${outcomes.join(', ')}`)
      assert.deepEqual(
        outcomes.filter((outcome) => outcome === 'refused'),
        ['refused'],
      )
    })

    it('moves the counter only from the expected value: one of N concurrent uses wins', async () => {
      const user = await newUser()
      const passkey = record(user, { counter: 4 })
      await store().insert(passkey)
      assert.equal(await store().recordUse(passkey.id, 3, 5, now()), false)
      const wins = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => store().recordUse(passkey.id, 4, 5, now() + i + 1)),
      )
      assert.equal(wins.filter(Boolean).length, 1)
      const stored = await store().findByCredentialId(passkey.credentialId)
      assert.equal(stored?.counter, 5)
      assert.ok(stored?.lastUsedAt !== null && stored?.lastUsedAt !== undefined && stored.lastUsedAt > now())
    })

    it('takes a challenge once, for its purpose and user, before it expires', async () => {
      const user = await newUser()
      const challenge = randomBytes(32).toString('base64url')
      const expiresAt = now() + LIFETIME
      await store().saveChallenge({ challenge, purpose: 'register', userId: user, expiresAt })
      assert.equal(await store().takeChallenge(challenge, 'login', null, now()), false)
      assert.equal(await store().takeChallenge(challenge, 'register', await newUser(), now()), false)
      assert.equal(await store().takeChallenge(challenge, 'register', user, expiresAt), false)
      assert.equal(await store().takeChallenge(challenge, 'register', user, now()), true)
      assert.equal(await store().takeChallenge(challenge, 'register', user, now()), false)
    })

    it('gives a challenge to exactly one of N concurrent takers', async () => {
      const challenge = randomBytes(32).toString('base64url')
      await store().saveChallenge({ challenge, purpose: 'login', userId: null, expiresAt: now() + LIFETIME })
      const takes = await Promise.all(
        Array.from({ length: RACERS }, () => store().takeChallenge(challenge, 'login', null, now())),
      )
      assert.equal(takes.filter(Boolean).length, 1)
    })

    it('sweeps the challenges that expired at or before the given time', async () => {
      const at = now() + 10 * LIFETIME
      const old = randomBytes(32).toString('base64url')
      const fresh = randomBytes(32).toString('base64url')
      await store().saveChallenge({ challenge: old, purpose: 'login', userId: null, expiresAt: at })
      await store().saveChallenge({ challenge: fresh, purpose: 'login', userId: null, expiresAt: at + 1 })
      assert.ok((await store().deleteExpiredChallenges(at)) >= 1)
      assert.equal(await store().takeChallenge(old, 'login', null, now()), false)
      assert.equal(await store().takeChallenge(fresh, 'login', null, now()), true)
    })
  })
}

/**
 * Checks a `PasskeyRepository` (it also needs the `userRepository` its passkeys belong to): per-user
 * passkeys, unique credentials, the compare-and-set counter, single-use, bound and expiring challenges.
 *
 * @example
 * ```ts
 * import { describePasskeyRepositoryConformance } from 'fastify-users/testing'
 *
 * describePasskeyRepositoryConformance({
 *   name: 'passkeys in my tables',
 *   create: async () => ({ repos: { userRepository, passkeyRepository: new MyPasskeys(db) }, cleanup }),
 * })
 * ```
 */
export function describePasskeyRepositoryConformance(
  target: ConformanceTarget<RepositoryPorts & { passkeyRepository: PasskeyRepository }>,
): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    passkeyRepositoryTests(useStorage(target, { before, after }))
  })
}
