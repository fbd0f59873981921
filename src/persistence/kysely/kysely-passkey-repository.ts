/**
 * The Kysely implementation of the core's `PasskeyRepository` (tables of migration `0009-passkeys`).
 *
 * @module
 */
import type { RemainingLogins, UnlinkOutcome } from '../../core/login-methods.js'
import type {
  PasskeyChallengePurpose,
  PasskeyChallengeRecord,
  PasskeyRecord,
  PasskeyRepository,
} from '../../core/passkey-repository.js'
import type { Id, IdType } from '../../core/user.js'
import { sha256 } from '../../kernel/digest.js'
import { ConflictError } from '../../kernel/errors.js'
import { detectDialect } from './connect.js'
import { uniqueViolation } from './constraint-errors.js'
import type { DynamicDb } from './database.js'
import { lockLoginMethods } from './login-methods.js'
import { toNumber } from './row-mapping.js'

/**
 * Passkeys and their challenges in a SQL database. Challenges are stored as their SHA-256 only, and taken
 * with one `DELETE` whose row count decides, so of concurrent takes exactly one wins on every database.
 *
 * @example
 * ```ts
 * const { passkeyRepository } = createKyselyRepositories(db)
 * ```
 */
export class KyselyPasskeyRepository implements PasskeyRepository {
  readonly #db: DynamicDb
  readonly #idType: IdType
  /** `SELECT ... FOR UPDATE` exists (PostgreSQL, MySQL/MariaDB), not on SQLite. */
  readonly #lockRows: boolean

  constructor(db: DynamicDb, options: { idType?: IdType } = {}) {
    this.#db = db
    this.#idType = options.idType ?? 'uuid'
    this.#lockRows = detectDialect(db) !== 'sqlite'
  }

  #userId(value: unknown): Id {
    return this.#idType === 'integer' ? toNumber(value) : String(value)
  }

  #record(row: Record<string, unknown>): PasskeyRecord {
    const transports = String(row.transports)
    return {
      id: String(row.id),
      userId: this.#userId(row.user_id),
      credentialId: String(row.credential_id),
      publicKey: String(row.public_key),
      counter: toNumber(row.counter),
      transports: transports === '' ? [] : transports.split(','),
      name: String(row.name),
      createdAt: toNumber(row.created_at),
      lastUsedAt:
        row.last_used_at === null || row.last_used_at === undefined ? null : toNumber(row.last_used_at),
    }
  }

  async insert(record: PasskeyRecord): Promise<void> {
    try {
      await this.#db
        .insertInto('passkeys')
        .values({
          id: record.id,
          user_id: record.userId,
          credential_id: record.credentialId,
          public_key: record.publicKey,
          counter: record.counter,
          transports: record.transports.join(','),
          name: record.name,
          created_at: record.createdAt,
          last_used_at: record.lastUsedAt,
        })
        .execute()
    } catch (err) {
      if (uniqueViolation(err)) {
        throw new ConflictError('this passkey is registered already', { field: 'credentialId', cause: err })
      }
      throw err
    }
  }

  async findByCredentialId(credentialId: string): Promise<PasskeyRecord | null> {
    const row = await this.#db
      .selectFrom('passkeys')
      .selectAll()
      .where('id', '=', sha256(credentialId, 'hex'))
      .executeTakeFirst()
    // The id is a hash of the credential id; the stored credential id must match too.
    return row && row.credential_id === credentialId ? this.#record(row) : null
  }

  async listForUser(userId: Id): Promise<PasskeyRecord[]> {
    const rows = await this.#db
      .selectFrom('passkeys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute()
    return rows.map((row) => this.#record(row))
  }

  async rename(userId: Id, id: string, name: string): Promise<PasskeyRecord | null> {
    const result = await this.#db
      .updateTable('passkeys')
      .set({ name })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    // MySQL counts changed rows only: an unchanged name answers 0, hence the read rather than the count.
    void result
    const row = await this.#db
      .selectFrom('passkeys')
      .selectAll()
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    return row ? this.#record(row) : null
  }

  async deleteIf(
    userId: Id,
    id: string,
    mayDelete: (remaining: RemainingLogins) => boolean,
  ): Promise<UnlinkOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      // The lock every writer that takes away a way to log in takes first (login-methods.ts).
      const methods = await lockLoginMethods(trx, userId, this.#lockRows)
      if (!methods?.passkeyIds.includes(id)) return 'missing'
      const remaining = {
        passwordHash: methods.passwordHash,
        otherProviders: methods.providers,
        passkeys: methods.passkeyIds.length - 1,
      }
      if (!mayDelete(remaining)) return 'refused'
      await trx.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).execute()
      return 'deleted'
    })
  }

  async recordUse(id: string, expectedCounter: number, counter: number, usedAt: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('passkeys')
      .set({ counter, last_used_at: usedAt })
      .where('id', '=', id)
      .where('counter', '=', expectedCounter)
      .executeTakeFirst()
    // `last_used_at` always changes (the clock moves), so MySQL's changed-rows count is the matched count.
    return toNumber(result.numUpdatedRows) > 0
  }

  async saveChallenge(record: PasskeyChallengeRecord): Promise<void> {
    await this.#db
      .insertInto('passkey_challenges')
      .values({
        id: sha256(record.challenge, 'hex'),
        purpose: record.purpose,
        user_id: record.userId === null ? null : String(record.userId),
        expires_at: record.expiresAt,
      })
      .execute()
  }

  async takeChallenge(
    challenge: string,
    purpose: PasskeyChallengePurpose,
    userId: Id | null,
    now: number,
  ): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('passkey_challenges')
      .where('id', '=', sha256(challenge, 'hex'))
      .where('purpose', '=', purpose)
      .where((eb) => (userId === null ? eb('user_id', 'is', null) : eb('user_id', '=', String(userId))))
      .where('expires_at', '>', now)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows) > 0
  }

  async deleteExpiredChallenges(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('passkey_challenges')
      .where('expires_at', '<=', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
