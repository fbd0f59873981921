/**
 * The checks every passkey assertion goes through, whether it is a login of its own or the second step
 * after a password: the response's shape, its signature against the stored key, and a signature counter
 * that must move forward (recorded with a compare-and-set, so two uses of one assertion cannot both pass).
 *
 * @module
 */
import type { AuthenticationResponseJSON, verifyAuthenticationResponse } from '@simplewebauthn/server'
import type { Logger } from '../kernel/logger.js'
import type { PasskeyRecord, PasskeyRepository } from './passkey-repository.js'
import { webauthn } from './webauthn.js'

/**
 * The challenge a WebAuthn response answers, from its `clientDataJSON`; `null` when unreadable.
 *
 * @example
 * ```ts
 * challengeOf(assertion) // 'q1w2e3...' (base64url)
 * ```
 */
export function challengeOf(response: unknown): string | null {
  if (typeof response !== 'object' || response === null) return null
  const inner = (response as { response?: unknown }).response
  if (typeof inner !== 'object' || inner === null) return null
  const clientData = (inner as { clientDataJSON?: unknown }).clientDataJSON
  if (typeof clientData !== 'string' || clientData.length > 4096) return null
  try {
    const parsed: unknown = JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8'))
    const challenge = (parsed as { challenge?: unknown } | null)?.challenge
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 128 ? challenge : null
  } catch {
    return null
  }
}

/**
 * The credential id of a WebAuthn response; `null` when missing or too long.
 *
 * @example
 * ```ts
 * credentialIdOf({ id: 'AbC' }) // 'AbC'
 * ```
 */
export function credentialIdOf(response: unknown): string | null {
  const id = (response as { id?: unknown } | null)?.id
  return typeof id === 'string' && id.length > 0 && id.length <= 1400 ? id : null
}

/**
 * What {@link verifyAssertion} checks an assertion against.
 *
 * @example
 * ```ts
 * const expected: AssertionExpectation = { repository, rpId: 'example.com', origins: ['https://example.com'], logger, now: Date.now() }
 * ```
 */
export interface AssertionExpectation {
  repository: PasskeyRepository
  rpId: string
  origins: readonly string[]
  logger: Logger
  /** The time of the check, in milliseconds since the epoch. */
  now: number
}

/**
 * Verifies an assertion whose challenge the caller has already taken (once, server side) against the
 * stored passkey `passkey`, and records its use: the new counter must move forward (unless the
 * authenticator counts nothing, both 0), and only one of two concurrent uses wins. A counter that went
 * backwards is logged as a security event (a cloned authenticator).
 *
 * @returns `null` when it proves the passkey, else the reason for the refusal (for the log).
 * @example
 * ```ts
 * const refused = await verifyAssertion(expected, passkey, assertion, challenge)
 * if (refused) throw new InvalidCredentialsError()
 * ```
 */
export async function verifyAssertion(
  expected: AssertionExpectation,
  passkey: PasskeyRecord,
  response: unknown,
  challenge: string,
): Promise<{ reason: string; cause?: unknown } | null> {
  let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>
  try {
    verified = await (await webauthn()).verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge: challenge,
      expectedOrigin: [...expected.origins],
      expectedRPID: expected.rpId,
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')),
        counter: passkey.counter,
        transports: passkey.transports as never,
      },
      requireUserVerification: false,
    })
  } catch (err) {
    const regression = err instanceof Error && /counter/i.test(err.message)
    if (regression) {
      // A counter that did not move forward may mean a cloned authenticator: a security event.
      expected.logger.warn(
        { event: 'passkey_counter_regression', userId: passkey.userId, passkeyId: passkey.id },
        'passkey counter went backwards',
      )
    }
    return { reason: regression ? 'counter' : 'verification', cause: err }
  }
  if (!verified.verified) return { reason: 'verification' }
  const { newCounter } = verified.authenticationInfo
  if (!(await expected.repository.recordUse(passkey.id, passkey.counter, newCounter, expected.now))) {
    return { reason: 'concurrent_use' }
  }
  return null
}
