/**
 * The Kysely implementation of the core's `RefreshTokenStore` (the `refresh_tokens` table of migration
 * `0007-refresh-tokens`). Rotation's one-winner rule is a single conditional UPDATE: of two concurrent
 * calls, the database lets exactly one change the row.
 *
 * @module
 */
import type { RefreshTokenRecord, RefreshTokenStore } from '../../core/refresh-tokens.js'
import { detectDialect } from './connect.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'

function toRecord(row: Record<string, unknown>): RefreshTokenRecord {
  return {
    tokenHash: String(row.token_hash),
    familyId: String(row.family_id),
    userId: String(row.user_id),
    authVersion: toNumber(row.auth_version),
    issuedAt: toNumber(row.issued_at),
    expiresAt: toNumber(row.expires_at),
    familyCreatedAt: toNumber(row.family_created_at),
    familyExpiresAt: toNumber(row.family_expires_at),
    usedAt: row.used_at === null || row.used_at === undefined ? null : toNumber(row.used_at),
    ip: row.ip === null || row.ip === undefined ? null : String(row.ip),
    userAgent: row.user_agent === null || row.user_agent === undefined ? null : String(row.user_agent),
  }
}

/**
 * Refresh tokens in a SQL database.
 *
 * @example
 * ```ts
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) }) // includes refreshTokenStore
 * ```
 */
export class KyselyRefreshTokenStore implements RefreshTokenStore {
  readonly #db: DynamicDb

  constructor(db: DynamicDb) {
    this.#db = db
    // Refuses a dialect fastify-users does not support, at construction rather than at the first query.
    detectDialect(db)
  }

  async insert(record: RefreshTokenRecord): Promise<void> {
    await this.#db
      .insertInto('refresh_tokens')
      .values({
        token_hash: record.tokenHash,
        family_id: record.familyId,
        user_id: record.userId,
        auth_version: record.authVersion,
        issued_at: record.issuedAt,
        expires_at: record.expiresAt,
        family_created_at: record.familyCreatedAt,
        family_expires_at: record.familyExpiresAt,
        used_at: record.usedAt,
        ip: record.ip,
        user_agent: record.userAgent,
      })
      .execute()
  }

  async find(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const row = await this.#db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst()
    return row ? toRecord(row) : null
  }

  async markUsed(tokenHash: string, at: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('refresh_tokens')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .executeTakeFirst()
    return toNumber(result.numUpdatedRows) === 1
  }

  async deleteFamily(familyId: string): Promise<number> {
    const result = await this.#db
      .deleteFrom('refresh_tokens')
      .where('family_id', '=', familyId)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }

  async listByUser(userId: string): Promise<RefreshTokenRecord[]> {
    const rows = await this.#db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .execute()
    return rows.map((row) => toRecord(row))
  }

  async deleteExpired(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('refresh_tokens')
      .where('family_expires_at', '<=', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
