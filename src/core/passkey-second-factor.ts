/**
 * A passkey as the second factor after a password: request options listing the user's passkeys, with a
 * challenge bound to the user and to the one login challenge it answers, then the assertion checked like a
 * passkey login (signature, counter) and refused unless it proves one of this user's passkeys.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server'
import type { Clock } from '../kernel/clock.js'
import { NotFoundError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { challengeOf, credentialIdOf, verifyAssertion } from './passkey-assertion.js'
import type { Passkeys } from './passkeys.js'
import type { SecondFactor, SecondFactorContext } from './second-factor.js'
import type { BaseUser } from './user.js'
import { webauthn } from './webauthn.js'

/** The random part of a second-step challenge, in bytes; the binding tag follows it. */
const RANDOM_BYTES = 32

/** 16 bytes of a hash of the login challenge's id: the part of a passkey challenge that ties it to it. */
function bindingTag(challengeId: string): Buffer {
  return createHash('sha256')
    .update(`fastify-users passkey second factor\u0000${challengeId}`)
    .digest()
    .subarray(0, 16)
}

/**
 * The passkey second factor, given to `TwoFactor` in its `factors`: a user with at least one passkey is
 * asked for a second step after the password, and may answer it with `{ passkey: assertion }`.
 *
 * @example
 * ```ts
 * const factor = new PasskeySecondFactor(passkeys, service)
 * const twoFactor = new TwoFactor({ service, secret, totpRepository, stepUpStore, factors: [factor] })
 * const { user, challengeId, expiresAt } = await twoFactor.openLogin(challenge)
 * const options = await factor.options(user, challengeId, expiresAt) // to navigator.credentials.get()
 * await twoFactor.completeLogin(challenge, { passkey: await navigator.credentials.get(options) })
 * ```
 */
export class PasskeySecondFactor<U extends BaseUser = BaseUser> implements SecondFactor<U> {
  readonly kind = 'passkey'
  readonly #passkeys: Passkeys<U>
  readonly #clock: Clock
  readonly #logger: Logger

  constructor(passkeys: Passkeys<U>, host: { clock: Clock; logger: Logger }) {
    this.#passkeys = passkeys
    this.#clock = host.clock
    this.#logger = host.logger
  }

  /** Whether the user has at least one passkey. */
  async isEnabled(user: U): Promise<boolean> {
    return (await this.#passkeys.repository.listForUser(user.id)).length > 0
  }

  /**
   * Request options for `navigator.credentials.get()`: the user's passkeys listed, user verification
   * preferred, and a fresh challenge bound to the user and to the login challenge `challengeId`, single-use,
   * expiring with the passkey challenge lifetime or with the login challenge (`expiresAt`, milliseconds),
   * whichever comes first.
   *
   * @throws NotFoundError (`passkey`) when the user has no passkey.
   */
  async options(
    user: U,
    challengeId: string,
    expiresAt: number,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { repository } = this.#passkeys
    const { rpId, challengeLifetimeMs } = this.#passkeys.relyingParty
    const mine = await repository.listForUser(user.id)
    if (mine.length === 0) throw new NotFoundError('passkey')
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: rpId,
      userVerification: 'preferred',
      challenge: new Uint8Array(Buffer.concat([randomBytes(RANDOM_BYTES), bindingTag(challengeId)])),
      allowCredentials: mine.map((p) => ({ id: p.credentialId, transports: p.transports as never })),
    })
    await repository.saveChallenge({
      challenge: options.challenge,
      purpose: 'second-factor',
      userId: user.id,
      expiresAt: Math.min(this.#clock.now() + challengeLifetimeMs, expiresAt),
    })
    return options
  }

  /**
   * Checks `input.passkey` (`null` when absent): it must answer a challenge of {@link options} made for this
   * user and this login challenge, taken once, and prove one of this user's passkeys, its counter moving
   * forward. Outside a login's second step (no `context.challengeId`) a passkey proves nothing here.
   */
  async verify(
    user: U,
    input: Record<string, unknown>,
    context?: SecondFactorContext,
  ): Promise<{ valid: boolean; kind: string } | null> {
    if (input.passkey === undefined) return null
    return { valid: await this.#check(user, input.passkey, context?.challengeId), kind: 'passkey' }
  }

  async #check(user: U, response: unknown, challengeId: string | undefined): Promise<boolean> {
    const { repository } = this.#passkeys
    const now = this.#clock.now()
    const refuse = (reason: string, cause?: unknown): false => {
      const detail = cause instanceof Error ? cause.message : undefined
      this.#logger.warn(
        { event: 'authn_second_factor_fail', via: 'passkey', userId: user.id, reason, detail },
        'passkey refused',
      )
      return false
    }
    const challenge = challengeOf(response)
    if (challengeId === undefined) return refuse('no_login_challenge')
    if (!challenge || !credentialIdOf(response)) return refuse('malformed')
    // Options made for another login of this user (or for nothing) do not answer this one.
    const tag = Buffer.from(challenge, 'base64url').subarray(RANDOM_BYTES)
    if (!tag.equals(bindingTag(challengeId))) return refuse('other_login')
    if (!(await repository.takeChallenge(challenge, 'second-factor', user.id, now))) {
      return refuse('challenge')
    }
    const passkey = await repository.findByCredentialId(credentialIdOf(response)!)
    // Another user's passkey proves nothing about this one, however valid its signature.
    if (!passkey || String(passkey.userId) !== String(user.id)) return refuse('not_this_users')
    const { rpId, origins } = this.#passkeys.relyingParty
    const refused = await verifyAssertion(
      { repository, rpId, origins, logger: this.#logger, now },
      passkey,
      response,
      challenge,
    )
    if (refused) return refuse(refused.reason, refused.cause)
    this.#logger.info(
      { event: 'passkey_second_factor', userId: user.id, passkeyId: passkey.id },
      'passkey used',
    )
    return true
  }
}
