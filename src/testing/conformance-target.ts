/**
 * What the conformance suite is run against: a named factory of storage ports, a clock the suite moves by
 * hand, and the small helpers every port's tests share.
 *
 * @module
 */

import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import type { ExclusiveLock } from '../core/admin-guard.js'
import type { MailCapStore } from '../core/mail-cap.js'
import type { OAuthAccountRepository } from '../core/oauth-accounts.js'
import type { PasskeyRepository } from '../core/passkey-repository.js'
import type { RefreshTokenStore } from '../core/refresh-tokens.js'
import type {
  LoginAttemptStore,
  RoleRepository,
  SessionRepository,
  TokenDenylist,
  UserRepository,
} from '../core/repositories.js'
import type { StepUpStore } from '../core/step-up.js'
import type { TotpRepository } from '../core/totp-repository.js'
import type { BaseUser, Id, Role } from '../core/user.js'
import type { Clock } from '../kernel/clock.js'

/**
 * The storage ports of fastify-users, as the service takes them. Give the ones your storage implements;
 * the suite checks each one given.
 *
 * @example
 * ```ts
 * const repos: RepositoryPorts = { sessionRepository: new RedisSessions(redis), userRepository }
 * ```
 */
export interface RepositoryPorts {
  userRepository?: UserRepository<BaseUser> | undefined
  roleRepository?: RoleRepository<Role> | undefined
  sessionRepository?: SessionRepository | undefined
  tokenDenylist?: TokenDenylist | undefined
  loginAttemptStore?: LoginAttemptStore | undefined
  mailCapStore?: MailCapStore | undefined
  /** Links between identity-provider accounts and users. */
  oauthAccountRepository?: OAuthAccountRepository | undefined
  /** The lock that serialises admin removals (`adminLock` of the service). */
  adminLock?: ExclusiveLock | undefined
  /** The refresh tokens of the JWT backends. */
  refreshTokenStore?: RefreshTokenStore | undefined
  /** Passkeys and their challenges (needs `userRepository` too, for the users they belong to). */
  passkeyRepository?: PasskeyRepository | undefined
  /** TOTP factors, one per user (with `userRepository` when the storage checks the user exists). */
  totpRepository?: TotpRepository | undefined
  /** The latest proof of identity per credential (the step-up window). */
  stepUpStore?: StepUpStore | undefined
}

/**
 * The time of the records the `deleteExpired` tests make: 2001, long before the clock's 2030 that every
 * other test's records live in, so a sweep's count is exact whatever else the storage holds.
 *
 * @example
 * ```ts
 * await store.save({ ...record, expiresAt: LONG_AGO })
 * ```
 */
export const LONG_AGO = Date.UTC(2001, 0, 1)

/**
 * A clock the suite sets and moves; the factory wires it into every port that reads the time itself (the
 * user repository's `createdAt` and `updatedAt`). It starts on 2030-01-01T00:00:00Z.
 *
 * @example
 * ```ts
 * create: async ({ clock }) => ({ repos: createKyselyRepositories(db, { now: () => clock.now() }) })
 * ```
 */
export class ConformanceClock implements Clock {
  #now = Date.UTC(2030, 0, 1)

  now(): number {
    return this.#now
  }

  /** Sets the time, in epoch milliseconds. */
  set(ms: number): void {
    this.#now = ms
  }

  /** Moves the time forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#now += ms
  }
}

/**
 * What the suite hands to {@link ConformanceTarget.create}.
 *
 * @example
 * ```ts
 * create: async ({ clock }) => ({ repos: { userRepository: new MyUsers(pool, { now: () => clock.now() }) } })
 * ```
 */
export interface ConformanceContext {
  /** The time every port that reads a clock must read. */
  clock: ConformanceClock
}

/**
 * One storage to check: its ports and how to throw it away.
 *
 * @example
 * ```ts
 * const storage: ConformanceStorage = { repos: { sessionRepository }, cleanup: () => redis.quit().then(() => {}) }
 * ```
 */
export interface ConformanceStorage<P extends RepositoryPorts = RepositoryPorts> {
  repos: P
  /** Closes connections and deletes what the storage made; runs after the last test. Default: nothing. */
  cleanup?: (() => Promise<void>) | undefined
}

/**
 * A storage to check. `create` is called once per suite (once per port with the per-port functions) and
 * must return empty storage: a fresh database, or a key prefix nobody else uses. The suite makes its own
 * data and never reads what it did not write, but it counts what `deleteExpired` removes.
 *
 * @example
 * ```ts
 * const target: ConformanceTarget = {
 *   name: 'my storage',
 *   create: async ({ clock }) => {
 *     const store = await MyStore.open({ now: () => clock.now() })
 *     return { repos: store.ports(), cleanup: () => store.destroy() }
 *   },
 * }
 * ```
 */
export interface ConformanceTarget<P extends RepositoryPorts = RepositoryPorts> {
  /** The name of the top-level `describe`, e.g. `'Kysely on PostgreSQL (uuid ids)'`. */
  name: string
  create(context: ConformanceContext): Promise<ConformanceStorage<P>>
  /** The `skip` option of the suite's `describe`: `true` or a reason to skip it. Default: run. */
  skip?: boolean | string | undefined
  /**
   * The storage drops expired entries by itself (Redis TTLs), so its `deleteExpired` methods may remove
   * nothing and return 0; the suite then checks only that they keep what is live. Default: `false` (each
   * `deleteExpired` must remove exactly the expired entries and count them).
   */
  selfExpiring?: boolean | undefined
}

/** The storage under test, once `before` has made it. */
export interface Fixture<P extends RepositoryPorts> {
  repos(): P
  clock: ConformanceClock
  /** A string no other run of the suite uses, for keys and addresses. */
  tag: string
  /** See {@link ConformanceTarget.selfExpiring}. */
  selfExpiring: boolean
}

/**
 * Checks the count a `deleteExpired` returned: exactly `expected`, or, for a self-expiring storage, no
 * more than that.
 */
export function assertSwept(fixture: Fixture<RepositoryPorts>, count: number, expected: number): void {
  if (!Number.isInteger(count) || count < 0) throw new assert.AssertionError({ message: `count ${count}` })
  if (fixture.selfExpiring) assert.ok(count <= expected, `swept ${count}, at most ${expected} had expired`)
  else assert.equal(count, expected, 'deleteExpired counts exactly the entries it removed')
}

/** Makes the storage in `before` and disposes of it in `after`; call inside a `describe`. */
export function useStorage<P extends RepositoryPorts>(
  target: ConformanceTarget<P>,
  hooks: { before: (fn: () => Promise<void>) => void; after: (fn: () => Promise<void>) => void },
): Fixture<P> {
  const clock = new ConformanceClock()
  let storage: ConformanceStorage<P> | undefined
  hooks.before(async () => {
    storage = await target.create({ clock })
  })
  hooks.after(async () => {
    await storage?.cleanup?.()
  })
  return {
    clock,
    selfExpiring: target.selfExpiring ?? false,
    tag: randomBytes(5).toString('hex'),
    repos() {
      if (!storage)
        throw new Error('fastify-users/testing: the storage was not created (see the `before` hook)')
      return storage.repos
    },
  }
}

/** A storage port the test needs, or an error naming it. */
export function required<T>(port: T | undefined, name: string): T {
  if (port === undefined) throw new Error(`fastify-users/testing: this suite needs \`${name}\` in \`repos\``)
  return port
}

/** A syntactically valid PHC hash: the repositories store it as given. */
export const FAKE_PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$Y29uZm9ybWFuY2U$aGFzaGhhc2hoYXNoaGFzaA'

/**
 * A user id for records that point at a user (sessions): a stored user's when the storage has a user
 * repository (SQL storage enforces the reference), a random UUID otherwise.
 */
export async function someUserId(repos: RepositoryPorts, email: string): Promise<Id> {
  if (!repos.userRepository) return randomUUID()
  const user = await repos.userRepository.insert({
    email,
    passwordHash: FAKE_PASSWORD_HASH,
    isActive: true,
    isVerified: true,
  })
  return user.id
}

/** A hex SHA-256-shaped key (the stores are keyed by such digests), unique to this run. */
export function digestKey(): string {
  return randomBytes(32).toString('hex')
}
