/**
 * The conformance tests of `OAuthAccountRepository`: the links between provider identities and users, where
 * a wrong answer logs one person into another's account.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LinkedAccount, OAuthAccountRepository, RemainingLogins } from '../core/oauth-accounts.js'
import { ConflictError } from '../kernel/errors.js'
import {
  type ConformanceTarget,
  FAKE_PASSWORD_HASH,
  type Fixture,
  type RepositoryPorts,
  required,
  someUserId,
  useStorage,
} from './conformance-target.js'

/** Registers the provider-link tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function oauthAccountRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  let serial = 0
  const links = (): OAuthAccountRepository =>
    required(fixture.repos().oauthAccountRepository, 'oauthAccountRepository')
  const userId = () => {
    serial += 1
    return someUserId(fixture.repos(), `oauth.${serial}.${fixture.tag}@conformance.test`)
  }
  const account = (owner: LinkedAccount['userId'], overrides: Partial<LinkedAccount> = {}): LinkedAccount => {
    serial += 1
    return {
      provider: 'idp',
      subject: `subject-${serial}-${fixture.tag}`,
      userId: owner,
      email: `linked.${serial}@conformance.test`,
      createdAt: fixture.clock.now(),
      ...overrides,
    }
  }

  describe('OAuthAccountRepository', () => {
    it('finds a link by provider and subject, exactly as inserted', async () => {
      const owner = await userId()
      const linked = account(owner)
      await links().insert(linked)
      assert.deepEqual(await links().find(linked.provider, linked.subject), linked)
      assert.equal(await links().find('other', linked.subject), null)
      assert.equal(await links().find(linked.provider, `${linked.subject}x`), null)
    })

    it('refuses a second link of one identity with ConflictError', async () => {
      const linked = account(await userId())
      await links().insert(linked)
      await assert.rejects(links().insert({ ...linked, userId: await userId() }), ConflictError)
      assert.equal(
        String((await links().find(linked.provider, linked.subject))?.userId),
        String(linked.userId),
      )
    })

    it("lists a user's links and deletes one when the check allows it", async () => {
      const owner = await userId()
      const first = account(owner, { provider: 'alpha', email: null })
      const second = account(owner, { provider: 'beta', createdAt: fixture.clock.now() + 1 })
      await links().insert(first)
      await links().insert(second)
      await links().insert(account(await userId(), { provider: 'alpha' }))
      assert.deepEqual(await links().listForUser(owner), [first, second])
      const seen: RemainingLogins[] = []
      const allow = (remaining: RemainingLogins) => {
        seen.push(remaining)
        return true
      }
      assert.equal(await links().deleteIf(owner, 'alpha', () => false), 'refused')
      assert.deepEqual(await links().listForUser(owner), [first, second])
      assert.equal(await links().deleteIf(owner, 'alpha', allow), 'deleted')
      assert.deepEqual(seen, [{ passwordHash: FAKE_PASSWORD_HASH, otherProviders: ['beta'], passkeys: 0 }])
      assert.equal(await links().deleteIf(owner, 'alpha', allow), 'missing')
      assert.equal(await links().deleteIf(await userId(), 'beta', allow), 'missing')
      assert.deepEqual(await links().listForUser(owner), [second])
    })

    it('stores, finds and clears the sealed tokens of a link', async () => {
      const owner = await userId()
      const linked = account(owner, { provider: 'gamma' })
      await links().insert(linked)
      assert.deepEqual(await links().findTokens(owner, 'gamma'), { subject: linked.subject, tokens: null })
      await links().setTokens('gamma', linked.subject, 'v1.sealed-value')
      assert.deepEqual(await links().findTokens(owner, 'gamma'), {
        subject: linked.subject,
        tokens: 'v1.sealed-value',
      })
      assert.equal(await links().findTokens(owner, 'delta'), null)
      await links().setTokens('gamma', linked.subject, null)
      assert.equal((await links().findTokens(owner, 'gamma'))?.tokens, null)
    })

    it('concurrent unlinks of a passwordless user leave one way to log in', async () => {
      const users = required(fixture.repos().userRepository, 'userRepository')
      serial += 1
      const owner = (
        await users.insert({
          email: `oauth.only.${serial}.${fixture.tag}@conformance.test`,
          passwordHash: '!oauth',
          isActive: true,
          isVerified: true,
        })
      ).id
      const providers = ['p1', 'p2', 'p3', 'p4', 'p5']
      for (const provider of providers) await links().insert(account(owner, { provider }))
      // The rule of the service: a usable password or another provider must remain.
      const lastOneStays = (remaining: RemainingLogins) =>
        !remaining.passwordHash.startsWith('!') || remaining.otherProviders.length > 0
      const outcomes = await Promise.all(
        providers.map((provider) => links().deleteIf(owner, provider, lastOneStays)),
      )
      assert.equal((await links().listForUser(owner)).length, 1, `outcomes: ${outcomes.join(', ')}`)
      assert.deepEqual(
        outcomes.filter((outcome) => outcome === 'refused'),
        ['refused'],
      )
    })
  })
}

/**
 * Checks an `OAuthAccountRepository` on its own.
 *
 * @example
 * ```ts
 * describeOAuthAccountRepositoryConformance({
 *   name: 'provider links in my store',
 *   create: async () => ({ repos: { oauthAccountRepository: new MyLinks(), userRepository } }),
 * })
 * ```
 */
export function describeOAuthAccountRepositoryConformance(target: ConformanceTarget): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    oauthAccountRepositoryTests(useStorage(target, { before, after }))
  })
}
