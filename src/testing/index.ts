/**
 * `fastify-users/testing`: the conformance suite of the storage ports. Any storage (your own tables, a
 * Redis store, the built-in Kysely repositories) runs it to show that it does what the service relies on:
 * unique violations, compare-and-set updates with one winner, exact counters under concurrency, keyset
 * cursors, expiry sweeps. Built on `node:test` and `node:assert`, so `node --test` runs it; it needs only
 * the port objects, and a clock for the ports that read the time themselves.
 *
 * @example
 * ```ts
 * // test/storage.test.ts, run with `node --test`
 * import { describeRepositoryConformance } from 'fastify-users/testing'
 * import { connectDatabase, createKyselyRepositories, migrateToLatest } from 'fastify-users/kysely'
 *
 * describeRepositoryConformance({
 *   name: 'users on SQLite',
 *   create: async ({ clock }) => {
 *     const { db } = await connectDatabase('sqlite::memory:')
 *     await migrateToLatest(db)
 *     return { repos: createKyselyRepositories(db, { now: () => clock.now() }), cleanup: () => db.destroy() }
 *   },
 * })
 * ```
 *
 * @module
 */
import { after, before, describe } from 'node:test'
import { type ConformanceTarget, type RepositoryPorts, useStorage } from './conformance-target.js'
import { loginAttemptStoreTests } from './login-attempt-conformance.js'
import { exclusiveLockTests, mailCapStoreTests } from './mail-cap-conformance.js'
import { oauthAccountRepositoryTests } from './oauth-account-conformance.js'
import { passkeyRepositoryTests } from './passkey-conformance.js'
import { refreshTokenStoreTests } from './refresh-token-conformance.js'
import { roleRepositoryTests } from './role-repository-conformance.js'
import { stepUpStoreTests, totpRepositoryTests } from './second-factor-conformance.js'
import { sessionRepositoryTests, tokenDenylistTests } from './session-conformance.js'
import { userRepositoryTests } from './user-repository-conformance.js'

export {
  ConformanceClock,
  type ConformanceContext,
  type ConformanceStorage,
  type ConformanceTarget,
  type RepositoryPorts,
} from './conformance-target.js'
export { describeLoginAttemptStoreConformance } from './login-attempt-conformance.js'
export { describeExclusiveLockConformance, describeMailCapStoreConformance } from './mail-cap-conformance.js'
export { describeOAuthAccountRepositoryConformance } from './oauth-account-conformance.js'
export { describePasskeyRepositoryConformance } from './passkey-conformance.js'
export { describeRefreshTokenStoreConformance } from './refresh-token-conformance.js'
export { describeRoleRepositoryConformance } from './role-repository-conformance.js'
export {
  describeStepUpStoreConformance,
  describeTotpRepositoryConformance,
} from './second-factor-conformance.js'
export {
  describeSessionRepositoryConformance,
  describeTokenDenylistConformance,
} from './session-conformance.js'
export { describeUserRepositoryConformance } from './user-repository-conformance.js'

/** The ports in the order the suite checks them, with the tests of each. */
const PORT_TESTS = [
  ['userRepository', userRepositoryTests],
  ['roleRepository', roleRepositoryTests],
  ['sessionRepository', sessionRepositoryTests],
  ['tokenDenylist', tokenDenylistTests],
  ['loginAttemptStore', loginAttemptStoreTests],
  ['mailCapStore', mailCapStoreTests],
  ['adminLock', exclusiveLockTests],
  ['oauthAccountRepository', oauthAccountRepositoryTests],
  ['refreshTokenStore', refreshTokenStoreTests],
  ['passkeyRepository', passkeyRepositoryTests],
  ['totpRepository', totpRepositoryTests],
  ['stepUpStore', stepUpStoreTests],
] as const

/**
 * Checks every storage port that `create` returns, over one storage: the user and role repositories,
 * sessions, the JWT deny-list, the login-throttle counters, the mail caps, the admin lock, the
 * identity-provider links, the refresh tokens, the passkeys and the second factor's TOTP records and
 * step-up proofs. Which ports to check is declared in `ports` (the `describe` blocks are registered
 * before `create` runs); a declared port that `create` does not return fails its tests. Default: every
 * one of them.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { createRedisStores } from 'fastify-users/redis'
 * import { describeRepositoryConformance } from 'fastify-users/testing'
 *
 * const client = new Redis(process.env.REDIS_URL!)
 * describeRepositoryConformance({
 *   name: 'sessions and counters in Redis',
 *   ports: ['sessionRepository', 'tokenDenylist', 'loginAttemptStore', 'mailCapStore', 'adminLock'],
 *   selfExpiring: true,
 *   create: async ({ clock }) => ({
 *     repos: createRedisStores(client, { prefix: `test:${Date.now()}:`, now: () => clock.now() }),
 *     cleanup: async () => void (await client.quit()),
 *   }),
 * })
 * ```
 */
export function describeRepositoryConformance(
  target: ConformanceTarget & { ports?: readonly (keyof RepositoryPorts)[] | undefined },
): void {
  const ports = new Set<keyof RepositoryPorts>(target.ports ?? PORT_TESTS.map(([port]) => port))
  describe(target.name, { skip: target.skip ?? false }, () => {
    const fixture = useStorage(target, { before, after })
    for (const [port, tests] of PORT_TESTS) if (ports.has(port)) tests(fixture)
  })
}
