/**
 * The defaults the plugin gives {@link Passkeys}: the password as the step-up of adding and removing a
 * passkey, and mails to the account when a passkey is added or removed.
 *
 * @module
 */
import type { PasskeyStepUp, PasskeysOptions } from './passkeys.js'
import { serviceNotices, type UserServiceHooks } from './service-hooks.js'
import type { BaseUser } from './user.js'

/**
 * The default step-up of adding and removing a passkey: the current password, checked under the login
 * throttle. A passkey login records nothing here (the password is asked whatever the login was).
 *
 * @example
 * ```ts
 * const passkeys = new Passkeys(service, { ...options, stepUp: passwordStepUp(service) })
 * ```
 */
export function passwordStepUp<U extends BaseUser>(service: {
  proveCurrentPassword(user: U, password: unknown, via?: string): Promise<void>
}): PasskeyStepUp<U> {
  return {
    requireRecentProof: (user, proof) =>
      service.proveCurrentPassword(user, proof.currentPassword, 'passkey_change'),
    recordProof: async () => {},
  }
}

/**
 * The default `onChange`: mails the account in the background (through the service's mail queue and its
 * cap) with the service's overridable `sendPasskeyAddedNotice` / `sendPasskeyRemovedNotice`.
 *
 * @example
 * ```ts
 * const passkeys = new Passkeys(service, { ...options, onChange: passkeyNotices(service) })
 * ```
 */
export function passkeyNotices<U extends BaseUser>(
  service: UserServiceHooks<U, never>,
): NonNullable<PasskeysOptions<U>['onChange']> {
  return async (user, change, passkey) => {
    const kind = change === 'added' ? 'passkey-added' : 'passkey-removed'
    serviceNotices(service).deliver(kind, user, () =>
      change === 'added'
        ? service.sendPasskeyAddedNotice(user, passkey.name)
        : service.sendPasskeyRemovedNotice(user, passkey.name),
    )
  }
}
