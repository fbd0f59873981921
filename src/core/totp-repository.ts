/**
 * The storage port of the TOTP second factor: one record per user.
 *
 * @module
 */
import type { Id } from './user.js'

/**
 * A user's TOTP factor as stored. The secret is ciphertext (see `SecretBox`); recovery codes are digests.
 *
 * @example
 * ```ts
 * const record = await repository.find(user.id) // null when the user never enrolled
 * ```
 */
export interface TotpRecord {
  userId: Id
  /** The encrypted secret. */
  secret: string
  /** When the first code was accepted (epoch ms); `null` while the enrolment is pending. */
  confirmedAt: number | null
  /** The last accepted time step: a code of this step or an earlier one is refused (no replay). */
  lastStep: number | null
  /** Hex SHA-256 digests of the unused recovery codes. */
  recoveryCodes: string[]
  createdAt: number
}

/**
 * Where TOTP factors are kept. `createKyselyRepositories` provides one (`totpRepository`).
 *
 * @example
 * ```ts
 * const changed = await repository.update(id, { lastStep: 42 }, { lastStep: 41 })
 * ```
 */
export interface TotpRepository {
  find(userId: Id): Promise<TotpRecord | null>
  /** Inserts or replaces the user's record. */
  save(record: TotpRecord): Promise<void>
  /**
   * Compare-and-set: applies `patch` only if every field of `expect` still has the given value.
   *
   * @returns whether the row was changed.
   */
  update(
    userId: Id,
    patch: Partial<Omit<TotpRecord, 'userId'>>,
    expect: Partial<TotpRecord>,
  ): Promise<boolean>
  /** @returns whether a record was deleted. */
  delete(userId: Id): Promise<boolean>
}
