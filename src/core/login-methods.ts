/**
 * The ways to log in to an account, and the one rule every removal of one of them (unlinking a provider,
 * removing a passkey) obeys: at least one must remain.
 *
 * @module
 */

/**
 * Whether a stored hash can ever match a password (the account has a password to log in with).
 *
 * @example
 * ```ts
 * hasUsablePassword('!oauth') // false (a user created by a provider)
 * hasUsablePassword('$argon2id$v=19$...') // true
 * ```
 */
export function hasUsablePassword(passwordHash: string): boolean {
  return passwordHash !== '' && !passwordHash.startsWith('!')
}

/**
 * The ways to log in a user would keep after an unlink (or a passkey's removal), read under the same lock
 * as the delete.
 *
 * @example
 * ```ts
 * const allowed = (r: RemainingLogins) => keepsAWayToLogIn(r, { passkeyLogin: true })
 * ```
 */
export interface RemainingLogins {
  /** The user's stored password hash (see {@link hasUsablePassword}). */
  passwordHash: string
  /** The providers still linked after the delete. */
  otherProviders: string[]
  /** How many passkeys the user still holds after the delete (0 where the store keeps none). */
  passkeys: number
}

/**
 * The rule of every removal of a way to log in: a usable password, another linked provider, or (when
 * passkeys can log in alone, `passkeyLogin`) a passkey must remain. The password-reset mail is not counted:
 * it proves the mailbox, not the person, and an account reachable only through it is one mail away from
 * whoever holds the mailbox.
 *
 * @example
 * ```ts
 * keepsAWayToLogIn({ passwordHash: '!oauth', otherProviders: [], passkeys: 1 }, { passkeyLogin: true }) // true
 * keepsAWayToLogIn({ passwordHash: '!oauth', otherProviders: [], passkeys: 1 }, { passkeyLogin: false }) // false
 * ```
 */
export function keepsAWayToLogIn(remaining: RemainingLogins, options: { passkeyLogin: boolean }): boolean {
  return (
    hasUsablePassword(remaining.passwordHash) ||
    remaining.otherProviders.length > 0 ||
    (options.passkeyLogin && remaining.passkeys > 0)
  )
}

/**
 * What `OAuthAccountRepository.deleteIf` (and `PasskeyRepository.deleteIf`) did.
 *
 * @example
 * ```ts
 * const outcome: UnlinkOutcome = await repo.deleteIf(userId, 'github', () => true) // 'deleted'
 * ```
 */
export type UnlinkOutcome = 'deleted' | 'missing' | 'refused'
