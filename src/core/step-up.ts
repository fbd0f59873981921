/**
 * Step-up: actions that weaken an account (turning a second factor off, new recovery codes, removing a
 * passkey) need a recent proof of identity on the credential that asks, not only a valid credential. A
 * proof is recorded per credential (a session id or a token's `jti`) when it logs in and when it
 * reauthenticates, so a credential stolen later than its proof window gains nothing from its owner's
 * logins elsewhere.
 *
 * @module
 */

import { StepUpRequiredError } from '../kernel/account-errors.js'
import type { Clock } from '../kernel/clock.js'
import type { Id } from './user.js'

/**
 * How a user proved who they are. `'password'` and `'totp'` are built in; another factor (a passkey)
 * records its own kind, so `recordProof(credentialId, userId, 'passkey')` works unchanged.
 *
 * @example
 * ```ts
 * const kind: ProofKind = 'passkey'
 * ```
 */
export type ProofKind = 'password' | 'totp' | 'recovery-code' | (string & {})

/**
 * One recorded proof.
 *
 * @example
 * ```ts
 * const proof: StepUpProof = { userId, kind: 'password', provedAt: Date.now() }
 * ```
 */
export interface StepUpProof {
  userId: Id
  kind: ProofKind
  /** Epoch milliseconds. */
  provedAt: number
}

/**
 * Where proofs are kept, keyed by credential id. `createKyselyRepositories` provides one
 * (`stepUpStore`, table `step_up_proofs`).
 *
 * @example
 * ```ts
 * await store.record('session-id-hash', { userId, kind: 'totp', provedAt: now }, now + 600_000)
 * ```
 */
export interface StepUpStore {
  /** Records (or replaces) the latest proof of a credential; it may be forgotten after `expiresAt`. */
  record(credentialId: string, proof: StepUpProof, expiresAt: number): Promise<void>
  /** The latest proof of a credential, or `null`. */
  latest(credentialId: string): Promise<StepUpProof | null>
  /** Forgets proofs that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>
}

/** Options of {@link StepUp}. */
export interface StepUpOptions {
  store: StepUpStore
  /** How long a proof counts, in minutes; from 1 to 1440. Default: `10`. */
  windowMinutes?: number
  clock: Clock
}

/**
 * Records proofs and requires a recent one.
 *
 * @example
 * ```ts
 * const stepUp = new StepUp({ store, clock: systemClock }) // 10 minutes
 * await stepUp.recordProof(credential.id, user.id, 'password')
 * await stepUp.requireRecentProof(credential.id, user.id) // throws StepUpRequiredError when stale
 * ```
 */
export class StepUp {
  readonly windowMs: number
  readonly #store: StepUpStore
  readonly #clock: Clock

  constructor(options: StepUpOptions) {
    const minutes = options.windowMinutes ?? 10
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      throw new TypeError(
        'fastify-users: option `stepUp.windowMinutes` must be a whole number of minutes from 1 to 1440',
      )
    }
    this.windowMs = minutes * 60_000
    this.#store = options.store
    this.#clock = options.clock
  }

  /** Records that the user of this credential just proved who they are with `kind`. */
  async recordProof(credentialId: string, userId: Id, kind: ProofKind): Promise<void> {
    const now = this.#clock.now()
    await this.#store.record(credentialId, { userId, kind, provedAt: now }, now + this.windowMs)
  }

  /**
   * The latest proof of this credential for this user if it is within the window, else `null`.
   */
  async recentProof(credentialId: string, userId: Id): Promise<StepUpProof | null> {
    const proof = await this.#store.latest(credentialId)
    if (!proof || String(proof.userId) !== String(userId)) return null
    return this.#clock.now() - proof.provedAt <= this.windowMs ? proof : null
  }

  /** Forgets the proofs past their window (the plugin's periodic sweep calls it). Returns how many. */
  async purgeExpired(): Promise<number> {
    return this.#store.deleteExpired(this.#clock.now())
  }

  /** @throws StepUpRequiredError unless {@link recentProof} finds one. */
  async requireRecentProof(credentialId: string, userId: Id): Promise<StepUpProof> {
    const proof = await this.recentProof(credentialId, userId)
    if (!proof) throw new StepUpRequiredError()
    return proof
  }
}
