/**
 * Passkeys (WebAuthn, through `@simplewebauthn/server`): a logged-in user registers, lists, renames and
 * removes passkeys; anyone logs in with a passkey alone (a discoverable credential, no username typed).
 *
 * Usable without Fastify: build one {@link Passkeys} beside the service. The plugin builds it from its
 * `passkeys` option.
 *
 * @module
 */

import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import { LastLoginMethodError } from '../kernel/account-errors.js'
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import {
  ConflictError,
  InactiveUserError,
  InvalidCredentialsError,
  NotFoundError,
  NotVerifiedError,
  ValidationError,
} from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { onFirstAddressProof } from './address-proof.js'
import { keepsAWayToLogIn } from './login-methods.js'
import { challengeOf, credentialIdOf, verifyAssertion } from './passkey-assertion.js'
import { deleteEveryPasskey, type PasskeyRecord, type PasskeyRepository } from './passkey-repository.js'
import type { UserRepository } from './repositories.js'
import type { BaseUser, Id } from './user.js'
import { webauthn } from './webauthn.js'

/** The longest passkey name accepted. */
export const PASSKEY_NAME_MAX_LENGTH = 100

/**
 * The proof of identity a sensitive passkey action needs (adding one, or removing one). The default asks
 * for the current password; a step-up policy shared with other factors can take its place.
 *
 * @example
 * ```ts
 * const stepUp: PasskeyStepUp<User> = {
 *   requireRecentProof: async (user, proof) => { if (!(await checkRecentProof(user, proof))) throw new Error() },
 *   recordProof: async () => {},
 * }
 * ```
 */
export interface PasskeyStepUp<U extends BaseUser> {
  /** Throws when the user has not proven who they are recently enough; `proof` is what the client sent. */
  requireRecentProof(user: U, proof: PasskeyActionProof, request?: unknown): Promise<void>
  /** Called after a successful passkey login: a passkey is itself a fresh proof (kind `passkey`). */
  recordProof(user: U, kind: 'passkey', request?: unknown): Promise<void>
}

/** What a client sends with a sensitive passkey action. */
export interface PasskeyActionProof {
  /** The account's current password. */
  currentPassword?: string | undefined
}

/** What {@link Passkeys} needs from the user service (a `BaseUserService` has all of it). */
export interface PasskeyHost<U extends BaseUser> {
  readonly userRepository: UserRepository<U>
  readonly clock: Clock
  readonly logger: Logger
  readonly requireVerificationOnRegistration: boolean
}

/**
 * Options of {@link Passkeys}.
 *
 * @example
 * ```ts
 * const options: PasskeysOptions<User> = {
 *   repository, rpId: 'example.com', rpName: 'Example', origins: ['https://example.com'], stepUp,
 * }
 * ```
 */
export interface PasskeysOptions<U extends BaseUser> {
  repository: PasskeyRepository
  /** The relying party id: the site's registrable domain (`example.com`), or `localhost`. Required. */
  rpId: string
  /** The name browsers show. Required. */
  rpName: string
  /** Every origin a ceremony may come from (`https://example.com`). Required, at least one. */
  origins: readonly string[]
  /** How long a challenge stays usable, in seconds. Default: 300. */
  challengeLifetimeSeconds?: number | undefined
  /** The proof adding and removing a passkey need. Required: see {@link PasskeyStepUp}. */
  stepUp: PasskeyStepUp<U>
  /** Told after a passkey was added or removed (e.g. to mail the account). Default: nothing. */
  onChange?: ((user: U, change: 'added' | 'removed', passkey: PublicPasskey) => Promise<void>) | undefined
}

/** A passkey as its owner sees it: no key material. */
export interface PublicPasskey {
  id: string
  name: string
  transports: string[]
  createdAt: string
  lastUsedAt: string | null
}

/**
 * A passkey name: trimmed, 1 to {@link PASSKEY_NAME_MAX_LENGTH} characters, no control characters.
 *
 * @throws ValidationError (field `name`).
 * @example
 * ```ts
 * passkeyName('  Laptop ') // 'Laptop'
 * ```
 */
export function passkeyName(name: unknown): string {
  const trimmed = typeof name === 'string' ? name.normalize('NFC').trim() : ''
  // Control characters (C0 and DEL) are refused: a name is shown in lists and mails.
  const control = [...trimmed].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f')
  if (trimmed.length === 0 || trimmed.length > PASSKEY_NAME_MAX_LENGTH || control) {
    throw new ValidationError('name', `name must be 1 to ${PASSKEY_NAME_MAX_LENGTH} printable characters`)
  }
  return trimmed
}

/**
 * The passkey flows. Challenges are random (from the library), stored server side, bound to their purpose
 * (and, for a registration, to the user), taken exactly once, and expire; counters must move forward.
 *
 * @example
 * ```ts
 * const passkeys = new Passkeys(service, { repository, rpId: 'example.com', rpName: 'Example',
 *   origins: ['https://example.com'], stepUp })
 * const options = await passkeys.registrationOptions(user) // to navigator.credentials.create()
 * await passkeys.register(user, attestation, 'Laptop')
 * const login = await passkeys.loginOptions()               // to navigator.credentials.get()
 * const same = await passkeys.login(assertion)
 * ```
 */
export class Passkeys<U extends BaseUser> {
  readonly #host: PasskeyHost<U>
  readonly #options: PasskeysOptions<U>
  readonly #lifetimeMs: number

  constructor(host: PasskeyHost<U>, options: PasskeysOptions<U>) {
    if (typeof options.rpId !== 'string' || !/^[a-z0-9.-]+$/i.test(options.rpId)) {
      throw new TypeError('fastify-users: option `passkeys.rpId` must be a domain such as `example.com`')
    }
    if (typeof options.rpName !== 'string' || options.rpName.trim() === '') {
      throw new TypeError('fastify-users: option `passkeys.rpName` must be a non-empty name')
    }
    if (!Array.isArray(options.origins) || options.origins.length === 0) {
      throw new TypeError('fastify-users: option `passkeys.origins` must list at least one origin')
    }
    for (const origin of options.origins) {
      let parsed: URL | null = null
      try {
        parsed = new URL(origin)
      } catch {}
      if (!parsed || parsed.origin !== origin) {
        throw new TypeError(
          `fastify-users: \`passkeys.origins\` entry ${JSON.stringify(origin)} is not an origin`,
        )
      }
    }
    const lifetime = options.challengeLifetimeSeconds ?? 300
    if (!Number.isSafeInteger(lifetime) || lifetime < 1) {
      throw new TypeError(
        'fastify-users: option `passkeys.challengeLifetimeSeconds` must be a positive integer',
      )
    }
    this.#host = host
    this.#options = options
    this.#lifetimeMs = lifetime * 1000
    // A passkey added while the address was unproven is not the mailbox owner's (see address-proof.ts).
    onFirstAddressProof(host, async (user) => {
      const removed = await deleteEveryPasskey(options.repository, user.id)
      if (removed > 0) {
        host.logger.warn(
          { event: 'passkey_removed', userId: user.id, count: removed, reason: 'address_unproven' },
          'passkeys removed: added while the address was unproven',
        )
      }
      return removed
    })
  }

  /** The storage, for housekeeping. */
  get repository(): PasskeyRepository {
    return this.#options.repository
  }

  /** The relying party and the challenge lifetime (milliseconds), for the second factor built on it. */
  get relyingParty(): { rpId: string; origins: readonly string[]; challengeLifetimeMs: number } {
    return { rpId: this.#options.rpId, origins: this.#options.origins, challengeLifetimeMs: this.#lifetimeMs }
  }

  /**
   * Creation options for `navigator.credentials.create()`: a discoverable credential, the user's existing
   * passkeys excluded, a fresh challenge bound to this user. A new passkey logs in on its own and answers
   * the second step, so it is a fresh-proof action, like turning on another factor: the step-up check runs
   * first, and the challenge it gates (single-use, short-lived, this user's) is what {@link register}
   * needs, so the browser never creates a credential the server would refuse to store.
   *
   * @throws whatever the step-up throws (`StepUpRequiredError`, `WrongPasswordError`).
   * @example
   * ```ts
   * const options = await passkeys.registrationOptions(user, { currentPassword })
   * ```
   */
  async registrationOptions(
    user: U,
    proof: PasskeyActionProof = {},
    request?: unknown,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    // A stolen session must not plant a passkey of its own: it would log in after the session ended, and
    // as a second factor lock the owner's password login behind it.
    await this.#options.stepUp.requireRecentProof(user, proof, request)
    const existing = await this.#options.repository.listForUser(user.id)
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: this.#options.rpName,
      rpID: this.#options.rpId,
      userName: user.email,
      userID: new TextEncoder().encode(String(user.id)),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as never })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    })
    await this.#options.repository.saveChallenge({
      challenge: options.challenge,
      purpose: 'register',
      userId: user.id,
      expiresAt: this.#host.clock.now() + this.#lifetimeMs,
    })
    return options
  }

  /**
   * Verifies an attestation against a challenge of this user's and stores the passkey.
   *
   * @throws ValidationError (field `credential`) when the response does not verify, or its challenge is
   *   unknown, used, expired or another user's; `ConflictError` when the credential is already stored.
   * @example
   * ```ts
   * const passkey = await passkeys.register(user, await navigator.credentials.create(options), 'Laptop')
   * ```
   */
  async register(user: U, response: unknown, name?: unknown): Promise<PublicPasskey> {
    const label = name === undefined ? 'Passkey' : passkeyName(name)
    const challenge = challengeOf(response)
    const now = this.#host.clock.now()
    const refuse = (reason: string, cause?: unknown): never => {
      const detail = cause instanceof Error ? cause.message : undefined
      this.#host.logger.warn(
        { event: 'passkey_register_fail', userId: user.id, reason, detail },
        'passkey refused',
      )
      throw new ValidationError('credential', 'the passkey could not be verified')
    }
    if (!challenge || !credentialIdOf(response)) return refuse('malformed')
    if (!(await this.#options.repository.takeChallenge(challenge, 'register', user.id, now))) {
      return refuse('challenge')
    }
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>
    try {
      verified = await (await webauthn()).verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: [...this.#options.origins],
        expectedRPID: this.#options.rpId,
        requireUserVerification: false,
      })
    } catch (err) {
      return refuse('verification', err)
    }
    if (!verified.verified || !verified.registrationInfo) return refuse('verification')
    const { credential } = verified.registrationInfo
    const record: PasskeyRecord = {
      id: sha256(credential.id, 'hex'),
      userId: user.id,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).map(String),
      name: label,
      createdAt: now,
      lastUsedAt: null,
    }
    try {
      await this.#options.repository.insert(record)
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new ConflictError('this passkey is registered already', { field: 'credentialId', cause: err })
      }
      throw err
    }
    const passkey = toPublic(record)
    this.#host.logger.info({ event: 'passkey_added', userId: user.id, passkeyId: record.id }, 'passkey added')
    await this.#options.onChange?.(user, 'added', passkey)
    return passkey
  }

  /**
   * Request options for `navigator.credentials.get()` with no credential listed (the browser offers the
   * discoverable ones), and a fresh challenge bound to no user.
   *
   * @example
   * ```ts
   * const options = await passkeys.loginOptions()
   * ```
   */
  async loginOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: this.#options.rpId,
      userVerification: 'preferred',
    })
    await this.#options.repository.saveChallenge({
      challenge: options.challenge,
      purpose: 'login',
      userId: null,
      expiresAt: this.#host.clock.now() + this.#lifetimeMs,
    })
    return options
  }

  /**
   * Logs in with an assertion: the challenge is taken (once), the signature verified against the stored
   * key, the counter must move forward (unless both are 0), then the account must be active (and verified
   * when verification is required), exactly as for a password login.
   *
   * @throws InvalidCredentialsError for any assertion that does not prove a stored passkey;
   *   `InactiveUserError`, `NotVerifiedError` after a valid one.
   * @example
   * ```ts
   * const user = await passkeys.login(await navigator.credentials.get(options))
   * ```
   */
  async login(response: unknown, request?: unknown): Promise<U> {
    const { repository } = this.#options
    const { logger } = this.#host
    const now = this.#host.clock.now()
    const refuse = (reason: string, userId: Id | null = null, cause?: unknown): never => {
      const detail = cause instanceof Error ? cause.message : undefined
      logger.warn(
        { event: 'authn_login_fail', via: 'passkey', userId, reason, detail },
        'passkey login failed',
      )
      throw new InvalidCredentialsError()
    }
    const challenge = challengeOf(response)
    const credentialId = credentialIdOf(response)
    if (!challenge || !credentialId) return refuse('malformed')
    // Taken before anything else, so a replayed assertion fails whatever else it carries.
    if (!(await repository.takeChallenge(challenge, 'login', null, now))) return refuse('challenge')
    const passkey = await repository.findByCredentialId(credentialId)
    if (!passkey) return refuse('unknown_credential')
    const refused = await verifyAssertion(this.#expectation(now), passkey, response, challenge)
    if (refused) return refuse(refused.reason, passkey.userId, refused.cause)
    const user = await this.#host.userRepository.findById(passkey.userId)
    if (!user) return refuse('user_gone', passkey.userId)
    if (!user.isActive) {
      logger.warn(
        { event: 'authn_login_fail', via: 'passkey', userId: user.id, reason: 'inactive' },
        'login refused',
      )
      throw new InactiveUserError()
    }
    if (this.#host.requireVerificationOnRegistration && !user.isVerified) {
      logger.warn(
        { event: 'authn_login_fail', via: 'passkey', userId: user.id, reason: 'not_verified' },
        'login refused',
      )
      throw new NotVerifiedError()
    }
    await this.#options.stepUp.recordProof(user, 'passkey', request)
    logger.info({ event: 'authn_login_success', via: 'passkey', userId: user.id }, 'login succeeded')
    return user
  }

  #expectation(now: number) {
    const { repository, rpId, origins } = this.#options
    return { repository, rpId, origins, logger: this.#host.logger, now }
  }

  /**
   * The user's passkeys, oldest first.
   *
   * @example
   * ```ts
   * const mine = await passkeys.list(user)
   * ```
   */
  async list(user: U): Promise<PublicPasskey[]> {
    return (await this.#options.repository.listForUser(user.id)).map(toPublic)
  }

  /**
   * Renames one of the user's passkeys.
   *
   * @throws NotFoundError when the user has no passkey with this id (another user's included);
   *   `ValidationError` for a bad name.
   * @example
   * ```ts
   * await passkeys.rename(user, id, 'Work laptop')
   * ```
   */
  async rename(user: U, id: string, name: unknown): Promise<PublicPasskey> {
    const label = passkeyName(name)
    const renamed = await this.#options.repository.rename(user.id, id, label)
    if (!renamed) throw new NotFoundError('passkey')
    return toPublic(renamed)
  }

  /**
   * Removes one of the user's passkeys, after the step-up check.
   *
   * @throws NotFoundError when the user has no passkey with this id; whatever the step-up throws.
   * @throws LastLoginMethodError when it is the last passkey of an account with no password and no
   *   linked provider.
   * @example
   * ```ts
   * await passkeys.remove(user, id, { currentPassword })
   * ```
   */
  async remove(user: U, id: string, proof: PasskeyActionProof, request?: unknown): Promise<void> {
    const passkey = (await this.#options.repository.listForUser(user.id)).find((p) => p.id === id)
    if (!passkey) throw new NotFoundError('passkey')
    await this.#options.stepUp.requireRecentProof(user, proof, request)
    // A passkey logs in alone, so removing the last one of an account without a password or a provider
    // would leave it no way in: refused, decided by the store under the lock every such removal takes.
    const outcome = await this.#options.repository.deleteIf(user.id, id, (remaining) =>
      keepsAWayToLogIn(remaining, { passkeyLogin: true }),
    )
    if (outcome === 'missing') throw new NotFoundError('passkey')
    if (outcome === 'refused') throw new LastLoginMethodError()
    this.#host.logger.info({ event: 'passkey_removed', userId: user.id, passkeyId: id }, 'passkey removed')
    await this.#options.onChange?.(user, 'removed', toPublic(passkey))
  }

  /**
   * Deletes expired challenges; answers how many.
   *
   * @example
   * ```ts
   * await passkeys.purgeExpired()
   * ```
   */
  async purgeExpired(): Promise<number> {
    return this.#options.repository.deleteExpiredChallenges(this.#host.clock.now())
  }
}

function toPublic(record: PasskeyRecord): PublicPasskey {
  return {
    id: record.id,
    name: record.name,
    transports: [...record.transports],
    createdAt: new Date(record.createdAt).toISOString(),
    lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt).toISOString(),
  }
}
