/**
 * The port every second factor implements, so the login's second step and the step-up proof accept any
 * of them: TOTP is built in; another factor (a passkey) implements the same interface and is passed in the
 * `factors` list of `TwoFactor`.
 *
 * @module
 */
import type { ProofKind } from './step-up.js'
import type { BaseUser } from './user.js'

/**
 * A second factor.
 *
 * @example
 * ```ts
 * const passkeys: SecondFactor = {
 *   kind: 'passkey',
 *   isEnabled: async (user) => (await store.countFor(user.id)) > 0,
 *   verify: async (user, input) => (typeof input.assertion === 'object' ? verifyAssertion(user, input.assertion) : null),
 * }
 * ```
 */
export interface SecondFactor<U extends BaseUser = BaseUser> {
  /** The proof kind it records, for example `'totp'` or `'passkey'`. */
  readonly kind: ProofKind
  /**
   * The methods a client may offer for it at the login's second step (the 202 answer's `methods`).
   * Default: `[kind]`.
   */
  readonly methods?: readonly string[]
  /** Whether the user set this factor up (then a login needs a second step). */
  isEnabled(user: U): Promise<boolean>
  /**
   * Checks the part of `input` that belongs to this factor: `null` when the input carries none (the next
   * factor is asked), `true` when it proves the user (and is consumed), `false` when it is wrong. At the
   * login's second step `context.challengeId` names the login challenge being answered, for factors whose
   * own challenge is bound to it (a passkey's); it is absent elsewhere (reauthentication).
   */
  verify(
    user: U,
    input: Record<string, unknown>,
    context?: SecondFactorContext,
  ): Promise<{ valid: boolean; kind: ProofKind } | null>
}

/**
 * What a factor learns about the check it is asked for.
 *
 * @example
 * ```ts
 * const context: SecondFactorContext = { challengeId: claims.jti }
 * ```
 */
export interface SecondFactorContext {
  /**
   * The id of the login challenge being answered, or of a reauthentication
   * ({@link reauthenticationChallengeId}); absent otherwise.
   */
  challengeId?: string
}

/**
 * The challenge id a reauthentication's second-factor answer is bound to: the asking credential's, so
 * passkey options made for one credential's reauthentication answer neither a login nor another credential.
 *
 * @example
 * ```ts
 * const options = await passkeyFactor.options(user, reauthenticationChallengeId(credential.id), expiresAt)
 * ```
 */
export function reauthenticationChallengeId(credentialId: string): string {
  return `reauthenticate\u0000${credentialId}`
}
