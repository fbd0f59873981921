/**
 * Two-factor authentication over a `BaseUserService`: the login's second step (a short-lived, single-use
 * challenge), step-up proofs, and the management of the TOTP factor (enrol, confirm, disable, new
 * recovery codes), each code check under the login throttle, and a notice mailed on every factor change.
 *
 * @module
 */

import { InvalidOtpError, MfaChallengeError } from '../kernel/account-errors.js'
import type { Clock } from '../kernel/clock.js'
import {
  InactiveUserError,
  InvalidCredentialsError,
  InvalidTokenError,
  WrongPasswordError,
} from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import type { TokenPurpose } from '../tokens/token-codec.js'
import { onFirstAddressProof } from './address-proof.js'
import { type LoginAttempt, LoginThrottle } from './login-throttle.js'
import { reauthenticationChallengeId, type SecondFactor, type SecondFactorContext } from './second-factor.js'
import { SecretBox } from './secret-box.js'
import { type ProofKind, StepUp, type StepUpProof, type StepUpStore } from './step-up.js'
import { type TotpEnrolment, TotpFactor } from './totp.js'
import type { TotpRepository } from './totp-repository.js'
import type { BaseUser, Role } from './user.js'
import type { BaseUserService } from './user-service.js'

/** The challenge of the login's second step: a signed token of its own audience, never an access token. */
export const mfaChallengePurpose: TokenPurpose = {
  audience: 'fastify-users:mfa-challenge',
  type: 'mfa-challenge+jwt',
}

/**
 * A change of a user's second factors, as the notice mail names it.
 *
 * @example
 * ```ts
 * const change: SecondFactorChange = 'removed'
 * ```
 */
export type SecondFactorChange = 'added' | 'removed' | 'recovery-codes-regenerated'

/** The security event logged for each change of a user's second factors. */
const SECOND_FACTOR_EVENTS: Record<SecondFactorChange, string> = {
  added: 'second_factor_added',
  removed: 'second_factor_removed',
  'recovery-codes-regenerated': 'recovery_codes_regenerated',
}

/** Options of {@link TwoFactor}. */
export interface TwoFactorOptions<U extends BaseUser> {
  /** The user service: its token codec, deny-list, throttle settings, clock and senders are used. */
  service: BaseUserService<U, Role, unknown>
  /** Where TOTP factors are kept (`createKyselyRepositories(db).totpRepository`). */
  totpRepository: TotpRepository
  /** Where step-up proofs are kept (`createKyselyRepositories(db).stepUpStore`). */
  stepUpStore: StepUpStore
  /** The application's secret (or list: the first encrypts, all decrypt), from which the key encrypting TOTP secrets is derived. */
  secret: string | readonly string[]
  /** The issuer shown in authenticator apps. Default: `'fastify-users'`. */
  issuer?: string
  /** How long a proof of identity allows sensitive actions, in minutes. Default: `10`. */
  stepUpMinutes?: number
  /** How long the login's second step may take, in seconds; from 30 to 1800. Default: `300`. */
  challengeSeconds?: number
  /** Further second factors (a passkey), asked after TOTP. Default: none. */
  factors?: readonly SecondFactor<U>[]
  /**
   * Tells a user a factor was added or removed, or recovery codes were regenerated. Default: the
   * service's `sendSecondFactorNotice` (a mail).
   */
  sendNotice?: (user: U, change: SecondFactorChange, factor: ProofKind) => Promise<void>
}

/**
 * Which backend a login challenge belongs to.
 *
 * @example
 * ```ts
 * const challenge = await twoFactor.beginLogin(user, { backend: 'jwt' })
 * await twoFactor.completeLogin(challenge, { code }, { backend: 'jwt' })
 * ```
 */
export interface LoginChallengeOptions {
  /** The name of the backend whose login gave the challenge. Default: none (a challenge of no backend). */
  backend?: string | undefined
}

/**
 * A valid, unused login challenge, read by {@link TwoFactor.openLogin}.
 *
 * @example
 * ```ts
 * const { user, challengeId, expiresAt } = await twoFactor.openLogin(challenge)
 * ```
 */
export interface OpenChallenge<U extends BaseUser> {
  user: U
  /** The challenge's id (a factor's own challenge may be bound to it). */
  challengeId: string
  /** When it expires, in milliseconds since the epoch. */
  expiresAt: number
}

/** What the second step of a login accepts: a TOTP code, a recovery code, or another factor's input. */
export type SecondFactorInput = Record<string, unknown>

/**
 * Two-factor authentication and step-up.
 *
 * @example
 * ```ts
 * const repos = createKyselyRepositories(db)
 * const service = new BaseUserService({ secret, ...repos })
 * const twoFactor = new TwoFactor({ service, secret, totpRepository: repos.totpRepository, stepUpStore: repos.stepUpStore })
 * const challenge = await twoFactor.beginLogin(user) // null: no second factor, log in now
 * const { user: proven } = await twoFactor.completeLogin(challenge!, { code: '123456' })
 * ```
 */
export class TwoFactor<U extends BaseUser = BaseUser> {
  readonly totp: TotpFactor<U>
  readonly stepUp: StepUp
  readonly factors: readonly SecondFactor<U>[]
  readonly #service: BaseUserService<U, Role, unknown>
  readonly #throttle: LoginThrottle | null
  readonly #challengeSeconds: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #sendNotice: (user: U, change: SecondFactorChange, factor: ProofKind) => Promise<void>

  constructor(options: TwoFactorOptions<U>) {
    const { service } = options
    if (!service.tokenDenylist) {
      throw new TypeError(
        'fastify-users: two-factor login needs the service to have a `tokenDenylist` (challenges are single-use)',
      )
    }
    const challengeSeconds = options.challengeSeconds ?? 300
    if (!Number.isInteger(challengeSeconds) || challengeSeconds < 30 || challengeSeconds > 1800) {
      throw new TypeError('fastify-users: option `challengeSeconds` must be a whole number from 30 to 1800')
    }
    this.#service = service
    this.#clock = service.clock
    this.#logger = service.logger
    this.#challengeSeconds = challengeSeconds
    // A factor enrolled while the address was unproven is not the mailbox owner's (see address-proof.ts).
    onFirstAddressProof(service, async (user) => {
      if (!(await options.totpRepository.delete(user.id))) return 0
      service.logger.warn(
        { event: 'second_factor_removed', userId: user.id, reason: 'address_unproven' },
        'two-factor removed: enrolled while the address was unproven',
      )
      return 1
    })
    this.totp = new TotpFactor<U>({
      repository: options.totpRepository,
      secrets: new SecretBox(options.secret, 'fastify-users totp secret'),
      clock: service.clock,
      issuer: options.issuer ?? 'fastify-users',
    })
    this.factors = [this.totp, ...(options.factors ?? [])]
    this.stepUp = new StepUp({
      store: options.stepUpStore,
      clock: service.clock,
      ...(options.stepUpMinutes === undefined ? {} : { windowMinutes: options.stepUpMinutes }),
    })
    // The service's own throttle settings over the same store: a code guess costs like a password guess.
    this.#throttle =
      service.loginThrottle && service.loginAttemptStore
        ? new LoginThrottle(service.loginThrottle, service.loginAttemptStore, service.clock, service.logger)
        : null
    this.#sendNotice =
      options.sendNotice ?? ((user, change, factor) => service.sendSecondFactorNotice(user, change, factor))
  }

  /** Whether a login of `user` needs a second step. */
  async isRequired(user: U): Promise<boolean> {
    for (const factor of this.factors) if (await factor.isEnabled(user)) return true
    return false
  }

  /**
   * The second-step methods a user has, for the client to offer: `'totp'` and `'recovery'` with TOTP on,
   * `'passkey'` with a passkey (when passkeys are a factor), in the order of the factors.
   */
  async methods(user: U): Promise<string[]> {
    const methods: string[] = []
    for (const factor of this.factors) {
      if (await factor.isEnabled(user)) methods.push(...(factor.methods ?? [factor.kind]))
    }
    return methods
  }

  /**
   * After a correct password: the challenge of the second step, or `null` when the user has no second
   * factor (log in at once). The challenge is bound to the user and their credential version (a password
   * change voids it), and to the backend that asked (`options.backend`: only that backend's second step
   * takes it); it expires after `challengeSeconds`, and is accepted once.
   */
  async beginLogin(user: U, options: LoginChallengeOptions = {}): Promise<string | null> {
    if (!(await this.isRequired(user))) return null
    return this.#service.tokens.sign(mfaChallengePurpose, {
      sub: String(user.id),
      lifetimeSeconds: this.#challengeSeconds,
      claims: { ver: user.authVersion, ...(options.backend === undefined ? {} : { bk: options.backend }) },
    })
  }

  /**
   * Reads a challenge without using it up (a passkey's request options are bound to it): its user, its
   * id and when it expires.
   *
   * @throws MfaChallengeError for an unknown, expired, used or outdated challenge, or one of another
   *   backend than `options.backend`.
   * @throws InactiveUserError when the user was deactivated since.
   */
  async openLogin(challenge: unknown, options: LoginChallengeOptions = {}): Promise<OpenChallenge<U>> {
    let claims: { sub: string; jti: string; exp: number; ver?: unknown; bk?: unknown }
    try {
      claims = this.#service.tokens.verify(challenge, mfaChallengePurpose)
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new MfaChallengeError()
      throw err
    }
    // The backend is signed into the challenge: one backend's login must not yield another's credential.
    if ((claims.bk ?? null) !== (options.backend ?? null)) throw new MfaChallengeError()
    if (await this.#service.tokenDenylist!.has(claims.jti)) throw new MfaChallengeError()
    const id = this.#service.parseId(claims.sub)
    const user = id === null ? null : await this.#service.userRepository.findById(id)
    if (!user || user.authVersion !== claims.ver) throw new MfaChallengeError()
    if (!user.isActive) throw new InactiveUserError()
    return { user, challengeId: claims.jti, expiresAt: claims.exp * 1000 }
  }

  /**
   * The second step: checks the challenge and then the code (or recovery code, or another factor's
   * input), under the throttle of the user and of the challenge.
   *
   * @throws MfaChallengeError for an unknown, expired, used or outdated challenge, or one another backend
   *   gave (`options.backend`).
   * @throws InvalidCredentialsError for a wrong, reused or missing code.
   * @throws TooManyAttemptsError while the user or the challenge must wait.
   */
  async completeLogin(
    challenge: unknown,
    input: SecondFactorInput,
    options: LoginChallengeOptions = {},
  ): Promise<{ user: U; kind: ProofKind }> {
    const { user, challengeId, expiresAt } = await this.openLogin(challenge, options)
    const kind = await this.#underThrottle(user, `challenge\u0000${challengeId}`, async () => {
      const result = await this.#verifyFactors(user, input, { challengeId })
      return result?.valid ? result.kind : null
    })
    if (kind === null) throw new InvalidCredentialsError()
    // Single use: the challenge is denied until it would have expired anyway.
    await this.#service.tokenDenylist!.add(challengeId, expiresAt)
    this.#logger.info({ event: 'authn_second_factor_success', userId: user.id, kind }, 'second factor')
    return { user, kind }
  }

  /**
   * `POST /users/me/reauthenticate`: checks a password or a second-factor code, under the login throttle,
   * and records the proof for the credential.
   *
   * @throws WrongPasswordError for a wrong password; InvalidOtpError for a wrong code.
   */
  async reauthenticate(user: U, credentialId: string, input: SecondFactorInput): Promise<StepUpProof> {
    let kind: ProofKind
    if (input.password !== undefined) {
      const identifier = (user as Record<string, unknown>)[this.#service.userAuthIdentifier]
      const ok = await this.#attempt(this.#throttle?.keyOf(identifier) ?? null, user, async () => {
        const password = typeof input.password === 'string' ? input.password : ''
        return (
          password.length > 0 && (await this.#service.passwords.verify(password, user.passwordHash)).valid
        )
      })
      if (!ok) throw new WrongPasswordError()
      kind = 'password'
    } else {
      const found = await this.#underThrottle(user, null, async () => {
        const result = await this.#verifyFactors(user, input, {
          challengeId: reauthenticationChallengeId(credentialId),
        })
        return result?.valid ? result.kind : null
      })
      if (found === null) throw new InvalidOtpError()
      kind = found
    }
    await this.stepUp.recordProof(credentialId, user.id, kind)
    return { userId: user.id, kind, provedAt: this.#clock.now() }
  }

  /** Records a proof for a credential (a login, or another factor's own check). */
  async recordProof(credentialId: string, user: U, kind: ProofKind): Promise<void> {
    await this.stepUp.recordProof(credentialId, user.id, kind)
  }

  /** @throws StepUpRequiredError unless the credential proved its user within the step-up window. */
  async requireRecentProof(credentialId: string, user: U): Promise<StepUpProof> {
    return this.stepUp.requireRecentProof(credentialId, user.id)
  }

  /** Starts a TOTP enrolment; see `TotpFactor.enrol`. */
  async enrolTotp(user: U): Promise<TotpEnrolment> {
    return this.totp.enrol(user)
  }

  /**
   * Confirms the enrolment with a first code (throttled) and returns the recovery codes, shown once.
   *
   * @throws InvalidOtpError for a wrong code.
   */
  async confirmTotp(user: U, code: unknown): Promise<string[]> {
    const codes = await this.#underThrottle(user, null, () => this.totp.confirm(user, code))
    if (!codes) throw new InvalidOtpError()
    await this.#notify(user, 'added', 'totp')
    return codes
  }

  /** Turns TOTP off after a recent proof on this credential. */
  async disableTotp(user: U, credentialId: string): Promise<void> {
    await this.requireRecentProof(credentialId, user)
    if (await this.totp.remove(user)) await this.#notify(user, 'removed', 'totp')
  }

  /** New recovery codes (the old ones stop working) after a recent proof on this credential. */
  async regenerateRecoveryCodes(user: U, credentialId: string): Promise<string[]> {
    await this.requireRecentProof(credentialId, user)
    const codes = await this.totp.regenerateRecoveryCodes(user)
    await this.#notify(user, 'recovery-codes-regenerated', 'totp')
    return codes
  }

  /**
   * Administrative recovery (the `disable-2fa` command): removes the user's TOTP factor with no proof, and
   * tells them by mail. Returns whether there was one.
   */
  async adminDisableTotp(user: U): Promise<boolean> {
    const removed = await this.totp.remove(user)
    if (removed) {
      this.#logger.warn({ event: 'second_factor_admin_removed', userId: user.id }, 'TOTP removed by an admin')
      await this.#notify(user, 'removed', 'totp')
    }
    return removed
  }

  async #verifyFactors(
    user: U,
    input: SecondFactorInput,
    context?: SecondFactorContext,
  ): Promise<{ valid: boolean; kind: ProofKind } | null> {
    for (const factor of this.factors) {
      if (!(await factor.isEnabled(user))) continue
      const result = await factor.verify(user, input, context)
      if (result) return result
    }
    return null
  }

  /** Runs `check` under the per-user code throttle and, if given, the throttle of one challenge. */
  async #underThrottle<T>(
    user: U,
    challengeKey: string | null,
    check: () => Promise<T | null>,
  ): Promise<T | null> {
    const throttle = this.#throttle
    const userKey = throttle ? throttle.keyOf(`second-factor\u0000${String(user.id)}`) : null
    if (challengeKey === null || !throttle) return this.#attempt(userKey, user, check)
    return this.#attempt(throttle.keyOf(challengeKey), user, () => this.#attempt(userKey, user, check))
  }

  /** One throttled check: `null` or `false` counts as a failure. */
  async #attempt<T>(key: string | null, user: U, check: () => Promise<T>): Promise<T> {
    const attempt: LoginAttempt | null =
      key && this.#throttle ? await this.#throttle.begin(key, user.id) : null
    try {
      const result = await check()
      if (result === null || result === false) {
        const failures = await attempt?.fail()
        this.#logger.warn({ event: 'authn_second_factor_fail', userId: user.id, failures }, 'wrong code')
      } else {
        await attempt?.succeed()
      }
      return result
    } finally {
      await attempt?.abandon()
    }
  }

  async #notify(user: U, change: SecondFactorChange, factor: ProofKind): Promise<void> {
    // A security event of its own, whether or not the mail goes out.
    this.#logger.info(
      { event: SECOND_FACTOR_EVENTS[change], userId: user.id, factor },
      'second factor changed',
    )
    try {
      await this.#sendNotice(user, change, factor)
    } catch (err) {
      // The change is made; a mail that fails must not undo or hide it.
      this.#logger.error(
        { event: 'mail_failed', kind: 'second-factor-changed', userId: user.id, err },
        'mail failed',
      )
    }
  }
}
