/**
 * The packages of optional features are imported when a feature is configured, not when the plugin is:
 * an application pays the memory of `openid-client`, a password scheme's binding or the TOTP libraries
 * only if it uses them. They are loaded here, at registration, so that a missing one fails `register()`,
 * never a request.
 *
 * @module
 */

import { totpLibraries } from '../core/totp.js'
import type { TwoFactor } from '../core/two-factor.js'
import type { BaseUser } from '../core/user.js'
import { Argon2idHasher, argon2Binding } from '../password/argon2-hasher.js'
import { BcryptHasher, bcryptBinding } from '../password/bcrypt-hasher.js'
import type { PasswordManager } from '../password/password-manager.js'
import type { FlatOptions } from './normalize-options.js'
import { openIdClient } from './oauth/providers.js'

/** The configured features whose packages are loaded on demand. */
export interface OptionalFeatures {
  /** The service's password manager: the argon2 and bcrypt bindings are loaded for the schemes listed. */
  passwords: PasswordManager
  /** Two-factor, when on: the TOTP and QR code packages. */
  twoFactor: TwoFactor<BaseUser> | null
  /** Sign-in with identity providers, when configured: `openid-client`. */
  oauth: FlatOptions['oauth']
}

/**
 * Imports the packages of the features that are on, and only those.
 *
 * @throws the import's error (`ERR_MODULE_NOT_FOUND` naming the package) when one of them is missing.
 * @example
 * ```ts
 * await loadOptionalPackages({ passwords: service.passwords, twoFactor, oauth: flat.oauth })
 * ```
 */
export async function loadOptionalPackages(features: OptionalFeatures): Promise<void> {
  const loads: Promise<unknown>[] = []
  const { hashers } = features.passwords
  if (hashers.some((hasher) => hasher instanceof Argon2idHasher)) loads.push(argon2Binding())
  if (hashers.some((hasher) => hasher instanceof BcryptHasher)) loads.push(bcryptBinding())
  if (features.twoFactor) loads.push(totpLibraries())
  if (Object.keys(features.oauth?.providers ?? {}).length > 0) loads.push(openIdClient())
  await Promise.all(loads)
}
