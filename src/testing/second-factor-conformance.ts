/**
 * The conformance tests of the second factor's ports: `TotpRepository` (one record per user, whose
 * compare-and-set `update` is what makes a TOTP code or a recovery code work once) and `StepUpStore` (the
 * latest proof of identity per credential, swept once expired).
 *
 * @module
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { StepUpProof, StepUpStore } from '../core/step-up.js'
import type { TotpRecord, TotpRepository } from '../core/totp-repository.js'
import {
  assertSwept,
  type ConformanceTarget,
  digestKey,
  type Fixture,
  LONG_AGO,
  type RepositoryPorts,
  required,
  someUserId,
  useStorage,
} from './conformance-target.js'

const RACERS = 12

/** Registers the TOTP tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function totpRepositoryTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): TotpRepository => required(fixture.repos().totpRepository, 'totpRepository')
  let n = 0
  const userId = () => someUserId(fixture.repos(), `totp${++n}.${fixture.tag}@example.com`)
  const record = async (overrides: Partial<TotpRecord> = {}): Promise<TotpRecord> => ({
    userId: await userId(),
    secret: randomBytes(40).toString('base64url'),
    confirmedAt: null,
    lastStep: null,
    recoveryCodes: [],
    createdAt: fixture.clock.now(),
    ...overrides,
  })

  describe('TotpRepository', () => {
    it("saves a user's record and finds it, every field intact; a user without one is null", async () => {
      const pending = await record()
      await store().save(pending)
      assert.deepEqual(await store().find(pending.userId), pending)
      const confirmed = await record({
        confirmedAt: fixture.clock.now(),
        lastStep: 67_000_123,
        recoveryCodes: [digestKey(), digestKey()],
      })
      await store().save(confirmed)
      assert.deepEqual(await store().find(confirmed.userId), confirmed)
      assert.equal(await store().find(await userId()), null)
    })

    it("replaces the user's record on a second save", async () => {
      const first = await record()
      await store().save(first)
      const second = {
        ...first,
        secret: randomBytes(40).toString('base64url'),
        createdAt: first.createdAt + 1,
      }
      await store().save(second)
      assert.deepEqual(await store().find(first.userId), second)
    })

    it('updates only while every expected value holds (null included), and says whether it did', async () => {
      const stored = await record()
      await store().save(stored)
      const codes = [digestKey(), digestKey(), digestKey()]
      const confirm = { confirmedAt: fixture.clock.now(), lastStep: 10, recoveryCodes: codes }
      assert.equal(
        await store().update(stored.userId, confirm, { confirmedAt: null, secret: 'another' }),
        false,
      )
      assert.deepEqual(await store().find(stored.userId), stored, 'a refused update changes nothing')
      assert.equal(
        await store().update(stored.userId, confirm, { confirmedAt: null, secret: stored.secret }),
        true,
      )
      assert.deepEqual(await store().find(stored.userId), { ...stored, ...confirm })
      // A used recovery code: the list is compared whole.
      const left = codes.slice(1)
      assert.equal(
        await store().update(stored.userId, { recoveryCodes: left }, { recoveryCodes: left }),
        false,
      )
      assert.equal(
        await store().update(stored.userId, { recoveryCodes: left }, { recoveryCodes: codes }),
        true,
      )
      assert.deepEqual((await store().find(stored.userId))?.recoveryCodes, left)
      assert.equal(await store().update(await userId(), { lastStep: 1 }, {}), false, 'no record, no update')
    })

    it('lets exactly one of N concurrent updates expecting one state win (a code works once)', async () => {
      const stored = await record({ confirmedAt: fixture.clock.now(), lastStep: 100 })
      await store().save(stored)
      const wins = await Promise.all(
        Array.from({ length: RACERS }, () =>
          store().update(stored.userId, { lastStep: 101 }, { lastStep: 100 }),
        ),
      )
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one update wins')
      assert.equal((await store().find(stored.userId))?.lastStep, 101)
    })

    it('deletes a record once', async () => {
      const stored = await record()
      await store().save(stored)
      assert.equal(await store().delete(stored.userId), true)
      assert.equal(await store().find(stored.userId), null)
      assert.equal(await store().delete(stored.userId), false)
    })
  })
}

/** Registers the step-up tests on an existing fixture (the shared `describeRepositoryConformance`). */
export function stepUpStoreTests(fixture: Fixture<RepositoryPorts>): void {
  const store = (): StepUpStore => required(fixture.repos().stepUpStore, 'stepUpStore')
  const now = (): number => fixture.clock.now()
  // Ids come back as stored: a number may come back as its text (the service compares them as text).
  const same = (proof: StepUpProof | null, expected: StepUpProof) =>
    assert.deepEqual(proof && { ...proof, userId: String(proof.userId) }, {
      ...expected,
      userId: String(expected.userId),
    })

  describe('StepUpStore', () => {
    it("keeps a credential's latest proof, one per credential; an unknown credential is null", async () => {
      const credential = digestKey()
      const other = digestKey()
      const first: StepUpProof = { userId: 41, kind: 'password', provedAt: now() }
      const second: StepUpProof = { userId: 41, kind: 'totp', provedAt: now() + 1000 }
      const theirs: StepUpProof = {
        userId: 'b5d3c1e0-0000-7000-8000-00000000abcd',
        kind: 'passkey',
        provedAt: now(),
      }
      await store().record(credential, first, now() + 600_000)
      await store().record(other, theirs, now() + 600_000)
      same(await store().latest(credential), first)
      await store().record(credential, second, now() + 601_000)
      same(await store().latest(credential), second)
      same(await store().latest(other), theirs)
      assert.equal(await store().latest(digestKey()), null)
    })

    it('sweeps the proofs that expired before the given time, counting them; one expiring then stays', async () => {
      const proof = (provedAt: number): StepUpProof => ({ userId: 7, kind: 'password', provedAt })
      const [gone, boundary, live] = [digestKey(), digestKey(), digestKey()]
      await store().record(gone, proof(LONG_AGO), LONG_AGO + 1000)
      await store().record(boundary, proof(LONG_AGO), LONG_AGO + 2000)
      await store().record(live, proof(LONG_AGO), LONG_AGO + 3000)
      assertSwept(fixture, await store().deleteExpired(LONG_AGO + 2000), 1)
      if (!fixture.selfExpiring) assert.equal(await store().latest(gone), null)
      same(await store().latest(boundary), proof(LONG_AGO))
      same(await store().latest(live), proof(LONG_AGO))
    })
  })
}

/**
 * Checks a `TotpRepository`: one record per user, stored intact and replaced by a second save, a
 * compare-and-set `update` of which exactly one of N concurrent callers wins, and deletion. Needs a
 * `userRepository` too when the storage checks that a record's user exists (SQL does).
 *
 * @example
 * ```ts
 * import { describeTotpRepositoryConformance } from 'fastify-users/testing'
 *
 * describeTotpRepositoryConformance({
 *   name: 'TOTP factors in my storage',
 *   create: async () => ({ repos: { totpRepository: myTotpRepository } }),
 * })
 * ```
 */
export function describeTotpRepositoryConformance(target: ConformanceTarget): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    totpRepositoryTests(useStorage(target, { before, after }))
  })
}

/**
 * Checks a `StepUpStore`: the latest proof per credential, and the sweep of expired proofs.
 *
 * @example
 * ```ts
 * import { describeStepUpStoreConformance } from 'fastify-users/testing'
 *
 * describeStepUpStoreConformance({
 *   name: 'step-up proofs in my storage',
 *   create: async () => ({ repos: { stepUpStore: myStepUpStore } }),
 * })
 * ```
 */
export function describeStepUpStoreConformance(target: ConformanceTarget): void {
  describe(target.name, { skip: target.skip ?? false }, () => {
    stepUpStoreTests(useStorage(target, { before, after }))
  })
}
