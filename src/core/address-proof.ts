/**
 * What the first proof of an address voids. Until the mailbox owner proves an address (the reset of an
 * unverified account), whoever holds the account may not own it, and every way in they attached is
 * unproven: provider links (`oauth-accounts.ts`), and, with collaborators that keep credentials of their
 * own, passkeys and a second factor. Those collaborators register here what to void, per service, so the
 * rule holds wherever the reset comes from (HTTP, the CLI, application code).
 *
 * @module
 */
import type { BaseUser } from './user.js'

/** Removes what an unproven holder attached to `user`, answering how many credentials went. */
export type UnprovenCredentialVoider = (user: BaseUser) => Promise<number>

const voiders = new WeakMap<object, UnprovenCredentialVoider[]>()

/**
 * Registers what the first proof of an address on `service`'s accounts also voids. `Passkeys` and
 * `TwoFactor` call it when they are built on a service.
 *
 * @example
 * ```ts
 * onFirstAddressProof(service, async (user) => removeEveryPasskey(user))
 * ```
 */
export function onFirstAddressProof(service: object, voider: UnprovenCredentialVoider): void {
  voiders.set(service, [...(voiders.get(service) ?? []), voider])
}

/**
 * Runs every voider registered on `service` for `user`, each even when another fails (the first failure is
 * thrown after all ran), and answers how many credentials went.
 *
 * @example
 * ```ts
 * if (!user.isVerified) await voidUnprovenCredentials(context.service, user)
 * ```
 */
export async function voidUnprovenCredentials(service: object, user: BaseUser): Promise<number> {
  let voided = 0
  let failure: unknown = null
  for (const voider of voiders.get(service) ?? []) {
    try {
      voided += await voider(user)
    } catch (error) {
      failure ??= error
    }
  }
  if (failure !== null) throw failure
  return voided
}
