/**
 * The changes of one's own account that need a fresh proof of identity: a new password, a new email
 * address, a new login identifier (a username), adding and removing a passkey. Each takes either the current
 * password with the request (itself a fresh proof, checked under the login throttle) or a step-up proof
 * that the asking credential recorded within the step-up window (a login, or `POST
 * /users/me/reauthenticate` with a password, a TOTP code or a passkey). With neither it throws
 * {@link StepUpRequiredError} and changes nothing. An account without a password (made by a passkey or
 * an identity provider) thus makes these changes through the step-up window.
 *
 * @module
 */
import { StepUpRequiredError } from '../kernel/account-errors.js'
import { ValidationError } from '../kernel/errors.js'
import { type EmailChangeContext, requestEmailChange } from './email-change.js'
import { emailFingerprint } from './fingerprints.js'
import { canonicalEmail } from './identifiers.js'
import type { PasskeyStepUp } from './passkeys.js'
import { serviceNotices } from './service-hooks.js'
import type { StepUp } from './step-up.js'
import type { BaseUser, Id, Role, UserPatch } from './user.js'
import type { BaseUserService } from './user-service.js'

/**
 * The proof a sensitive change comes with: the current password, or the id of the credential whose
 * step-up proof counts (a session's id or an access token's `jti`, `ActiveCredential.id`).
 *
 * @example
 * ```ts
 * const proof: ChangeProof = { currentPassword: body.currentPassword, credentialId: request.credential?.id }
 * ```
 */
export interface ChangeProof {
  currentPassword?: string | undefined
  credentialId?: string | null | undefined
}

/**
 * Sensitive changes under a fresh proof. Without a `stepUp` (no step-up store: the plugin builds one with
 * `routes.twoFactor`), only the current password proves.
 *
 * @example
 * ```ts
 * const changes = new SensitiveChanges(service, twoFactor.stepUp)
 * await changes.changePassword(user.id, 'a new long passphrase', { credentialId: credential.id })
 * // throws StepUpRequiredError without a recent proof on that credential
 * ```
 */
export class SensitiveChanges<U extends BaseUser = BaseUser> {
  readonly #service: BaseUserService<U, Role, unknown>
  readonly #stepUp: StepUp | null

  constructor(service: BaseUserService<U, Role, unknown>, stepUp: StepUp | null = null) {
    this.#service = service
    this.#stepUp = stepUp
  }

  /**
   * Passes when `proof` proves the user now: a right current password, or a step-up proof of the
   * credential within the window.
   *
   * @throws WrongPasswordError for a wrong password (counted as a failed login).
   * @throws StepUpRequiredError without a password and without a recent proof.
   */
  async requireProof(user: U, proof: ChangeProof, via: string): Promise<void> {
    if (proof.currentPassword !== undefined) {
      await this.#service.proveCurrentPassword(user, proof.currentPassword, via)
      return
    }
    if (this.#stepUp && proof.credentialId) {
      await this.#stepUp.requireRecentProof(proof.credentialId, user.id)
      return
    }
    throw new StepUpRequiredError()
  }

  /** Sets a new password after a proof; every other credential ends, as `changePassword` does. */
  async changePassword(id: Id, newPassword: string, proof: ChangeProof): Promise<U> {
    if (proof.currentPassword !== undefined) {
      return this.#service.changePassword(id, proof.currentPassword, newPassword)
    }
    const user = await this.#service.getUser(id)
    await this.requireProof(user, proof, 'password_change')
    return this.#service.updateUser(user.id, { password: newPassword } as UserPatch<U>)
  }

  /**
   * Starts an email change after a proof (the new address is held as `pendingEmail` until confirmed), with
   * `otherChanges` applied first; see `BaseUserService.requestEmailChange`.
   */
  async requestEmailChange(
    id: Id,
    newEmail: string,
    proof: ChangeProof,
    otherChanges?: UserPatch<U>,
  ): Promise<U> {
    if (proof.currentPassword !== undefined) {
      return this.#service.requestEmailChange(id, newEmail, proof.currentPassword, otherChanges)
    }
    let user = await this.#service.getUser(id)
    // A malformed address is refused before the proof is asked, as with a password.
    canonicalEmail(newEmail)
    await this.requireProof(user, proof, 'email_change')
    if (otherChanges && Object.keys(otherChanges).length > 0) {
      if ('email' in otherChanges || 'password' in otherChanges) {
        throw new ValidationError('email', 'pass the new address as `newEmail`, and change passwords apart')
      }
      user = await this.updateSelf(user.id, otherChanges, proof)
    }
    return requestEmailChange(this.#emailChange(), emailFingerprint, user, newEmail)
  }

  /**
   * A user's change of their own fields: a new login identifier (the `userAuthIdentifier` column when it is
   * not the email, e.g. a username) needs a proof like an email change; other fields do not.
   */
  async updateSelf(id: Id, patch: UserPatch<U>, proof: ChangeProof): Promise<U> {
    const identifier = this.#service.userAuthIdentifier
    const next = (patch as Record<string, unknown>)[identifier]
    if (identifier !== 'email' && next !== undefined) {
      const user = await this.#service.getUser(id)
      if (next !== (user as Record<string, unknown>)[identifier]) {
        await this.requireProof(user, proof, 'identifier_change')
      }
    }
    return this.#service.updateUser(id, patch)
  }

  /**
   * The step-up of adding and removing a passkey: the current password the client sent, or a recent proof
   * of the credential `credentialOf(request)` names.
   *
   * @example
   * ```ts
   * new Passkeys(service, { ...options, stepUp: changes.passkeyStepUp((req) => credentialIdOf(req)) })
   * ```
   */
  passkeyStepUp(credentialOf: (request: unknown) => string | null): PasskeyStepUp<U> {
    return {
      requireRecentProof: (user, proof, request) =>
        this.requireProof(
          user,
          { currentPassword: proof.currentPassword, credentialId: credentialOf(request) },
          'passkey_change',
        ),
      recordProof: async () => {},
    }
  }

  /** The email-change flow over the service's public parts (the request step needs no more). */
  #emailChange(): EmailChangeContext<U> {
    const service = this.#service
    const notices = serviceNotices(service)
    const unused = (): never => {
      throw new Error('fastify-users: not used when an email change is requested')
    }
    return {
      users: service.userRepository,
      tokens: service.tokens,
      logger: service.logger,
      lifetimeSeconds: service.tokenLifetimes.verification,
      userFromToken: unused,
      provePassword: unused,
      endSessions: unused,
      mailChangeRequested: (user, newEmail, confirmToken, cancelToken) => {
        notices.deliver('email-change-confirm', user, () =>
          service.sendEmailChangeConfirmation(user, newEmail, confirmToken),
        )
        notices.deliver('email-change-requested', user, () =>
          service.sendEmailChangeRequestedNotice(user, newEmail, cancelToken),
        )
      },
      mailChanged: unused,
    }
  }
}
