/**
 * Password hashing, verification, upgrade and policy.
 *
 * @example
 * ```ts
 * import { PasswordManager, PasswordPolicy } from './password/index.js'
 *
 * const policy = new PasswordPolicy()
 * const passwords = new PasswordManager({ schemes: ['argon2id', 'bcrypt'] })
 * policy.check(newPassword)
 * const stored = await passwords.hash(newPassword)
 * ```
 *
 * @module
 */

export type { Argon2idHasherOptions } from './argon2-hasher.js'
export { Argon2idHasher } from './argon2-hasher.js'
export type { BcryptHasherOptions } from './bcrypt-hasher.js'
export { BCRYPT_MAX_PASSWORD_BYTES, BcryptHasher } from './bcrypt-hasher.js'
export type { BreachedPasswordOptions } from './breached-password.js'
export { BreachedPasswordCheck } from './breached-password.js'
export { commonPasswordForm, isCommonPassword, loadCommonPasswords } from './common-passwords.js'
export type { HashQueueOptions } from './hash-queue.js'
export { defaultHashConcurrency, HashQueue } from './hash-queue.js'
export type { PasswordHasher } from './password-hasher.js'
export type {
  PasswordManagerOptions,
  PasswordSchemeName,
  PasswordVerifyResult,
} from './password-manager.js'
export { PasswordManager } from './password-manager.js'
export type { PasswordPolicyOptions } from './password-policy.js'
export { normalizePassword, PasswordPolicy, userContextWords } from './password-policy.js'
export type { PhcHash } from './phc.js'
export { formatPhc, parsePhc } from './phc.js'
export type { ScryptHasherOptions } from './scrypt-hasher.js'
export { ScryptHasher } from './scrypt-hasher.js'
