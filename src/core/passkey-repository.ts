/**
 * The storage port of passkeys (WebAuthn credentials) and of their single-use challenges. The Kysely
 * package implements it (`KyselyPasskeyRepository`); the conformance suite `passkeyRepository` checks any
 * other implementation.
 *
 * @module
 */
import type { RemainingLogins, UnlinkOutcome } from './login-methods.js'
import type { Id } from './user.js'

/** The transports a browser reports for a credential (`usb`, `nfc`, `ble`, `internal`, `hybrid`, ...). */
export type PasskeyTransport = string

/**
 * One stored passkey. `id` is the hex SHA-256 of `credentialId`: a fixed-length key every database can
 * index (credential ids may be up to 1023 bytes), and the id the routes use.
 *
 * @example
 * ```ts
 * const record: PasskeyRecord = {
 *   id: sha256Hex(credentialId), userId: user.id, credentialId, publicKey, counter: 0,
 *   transports: ['internal'], name: 'Laptop', createdAt: now, lastUsedAt: null,
 * }
 * ```
 */
export interface PasskeyRecord {
  id: string
  userId: Id
  /** The credential id, base64url, as the authenticator made it. */
  credentialId: string
  /** The COSE public key, base64url. */
  publicKey: string
  /** The signature counter last seen (0 when the authenticator does not count). */
  counter: number
  transports: PasskeyTransport[]
  /** A label the user chose (or the default one). */
  name: string
  /** Epoch milliseconds. */
  createdAt: number
  /** Epoch milliseconds of the last login with it, or `null`. */
  lastUsedAt: number | null
}

/** What a challenge is for: creating a passkey, logging in with one, or the second step after a password. */
export type PasskeyChallengePurpose = 'register' | 'login' | 'second-factor'

/**
 * A challenge handed to a browser, kept until it is used once or expires.
 *
 * @example
 * ```ts
 * await repository.saveChallenge({ challenge, purpose: 'login', userId: null, expiresAt: now + 300_000 })
 * ```
 */
export interface PasskeyChallengeRecord {
  /** The challenge, base64url, exactly as sent. */
  challenge: string
  purpose: PasskeyChallengePurpose
  /** The user a registration challenge belongs to; `null` for a login challenge (usernameless). */
  userId: Id | null
  /** Epoch milliseconds. */
  expiresAt: number
}

/**
 * Where passkeys and their challenges live. Expected absences answer `null` or `false`; faults throw.
 *
 * @example
 * ```ts
 * const passkeys = new Passkeys(service, { repository: createKyselyRepositories(db).passkeyRepository, ... })
 * ```
 */
export interface PasskeyRepository {
  /** Stores a new passkey. Throws `ConflictError` (field `credentialId`) when the credential is known. */
  insert(record: PasskeyRecord): Promise<void>
  /** The passkey with this credential id, or `null`. */
  findByCredentialId(credentialId: string): Promise<PasskeyRecord | null>
  /** The user's passkeys, oldest first. */
  listForUser(userId: Id): Promise<PasskeyRecord[]>
  /** Renames the user's passkey; `null` when the user has no passkey with this id. */
  rename(userId: Id, id: string, name: string): Promise<PasskeyRecord | null>
  /**
   * Deletes the user's passkey if `mayDelete`, given the ways to log in that would remain (the password
   * hash, the linked providers, the passkeys left), allows it. The check and the delete are one atomic
   * step under the same lock as `OAuthAccountRepository.deleteIf` (the user's row), so a passkey's removal
   * and a provider's unlink cannot each leave the other as the last way to log in and both succeed.
   * Answers `'missing'` when the user has no passkey with this id, `'refused'` when `mayDelete` said no.
   */
  deleteIf(userId: Id, id: string, mayDelete: (remaining: RemainingLogins) => boolean): Promise<UnlinkOutcome>
  /**
   * Records a login: sets the counter and the last use, only if the stored counter is still
   * `expectedCounter` (compare-and-set), so two concurrent logins with one signature cannot both count.
   */
  recordUse(id: string, expectedCounter: number, counter: number, usedAt: number): Promise<boolean>
  /** Keeps a challenge until it is taken or expires. */
  saveChallenge(record: PasskeyChallengeRecord): Promise<void>
  /**
   * Takes a challenge: deletes it and answers `true` only when it existed for this purpose and user and had
   * not expired at `now`. Of concurrent takes of one challenge exactly one gets `true`.
   */
  takeChallenge(
    challenge: string,
    purpose: PasskeyChallengePurpose,
    userId: Id | null,
    now: number,
  ): Promise<boolean>
  /** Deletes the challenges that expired at or before `before`; answers how many. */
  deleteExpiredChallenges(before: number): Promise<number>
}

/**
 * Deletes every passkey of a user, whatever ways to log in remain: an administrator's recovery, or the first
 * proof of an address the passkeys were added under while it was unproven. Each goes through
 * {@link PasskeyRepository.deleteIf}, under the lock the other removals take. Answers how many went.
 *
 * @example
 * ```ts
 * const removed = await deleteEveryPasskey(repos.passkeyRepository, user.id)
 * ```
 */
export async function deleteEveryPasskey(repository: PasskeyRepository, userId: Id): Promise<number> {
  let removed = 0
  for (const passkey of await repository.listForUser(userId)) {
    if ((await repository.deleteIf(userId, passkey.id, () => true)) === 'deleted') removed++
  }
  return removed
}
