/**
 * The Kysely implementations of the core's `SessionRepository` and `TokenDenylist`.
 *
 * @module
 */
import type { SessionRecord, SessionRepository, TokenDenylist } from '../../core/repositories.js'
import type { Id, IdType } from '../../core/user.js'
import { uniqueViolation } from './constraint-errors.js'
import type { DynamicDb } from './database.js'
import { PreparedQuery } from './prepared-query.js'
import { toNumber } from './row-mapping.js'

/**
 * Sessions in a SQL database. Rows are keyed by the SHA-256 of the session secret, so a leaked table
 * cannot be replayed as cookies.
 *
 * @example
 * ```ts
 * const sessions = new KyselySessionRepository(db)
 * ```
 */
export class KyselySessionRepository implements SessionRepository {
  readonly #db: DynamicDb
  readonly #idType: IdType

  readonly #byId: PreparedQuery<Record<string, unknown>>

  constructor(db: DynamicDb, options: { idType?: IdType } = {}) {
    this.#db = db
    this.#idType = options.idType ?? 'uuid'
    this.#byId = new PreparedQuery(db, (q, p) => q.selectFrom('sessions').selectAll().where('id', '=', p(0)))
  }

  async create(record: SessionRecord): Promise<void> {
    await this.#db
      .insertInto('sessions')
      .values({
        id: record.id,
        user_id: record.userId,
        auth_version: record.authVersion,
        created_at: record.createdAt,
        last_seen_at: record.lastSeenAt,
        expires_at: record.expiresAt,
        ip: record.ip,
        user_agent: record.userAgent,
      })
      .execute()
  }

  async find(id: string): Promise<SessionRecord | null> {
    const [row] = await this.#byId.execute([id])
    return row ? this.#record(row) : null
  }

  async listForUser(userId: Id): Promise<SessionRecord[]> {
    const rows = await this.#db.selectFrom('sessions').selectAll().where('user_id', '=', userId).execute()
    return rows.map((row) => this.#record(row as Record<string, unknown>))
  }

  #record(row: Record<string, unknown>): SessionRecord {
    return {
      id: String(row.id),
      userId: this.#idType === 'integer' ? toNumber(row.user_id) : String(row.user_id),
      authVersion: toNumber(row.auth_version),
      createdAt: toNumber(row.created_at),
      lastSeenAt: toNumber(row.last_seen_at),
      expiresAt: toNumber(row.expires_at),
      ip: (row.ip as string | null) ?? null,
      userAgent: (row.user_agent as string | null) ?? null,
    }
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    await this.#db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id', '=', id).execute()
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst()
    return toNumber(result.numDeletedRows) > 0
  }

  async deleteForUser(userId: Id): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}

/**
 * The access-token deny-list in a SQL database, keyed by `jti` (never by a hash of the raw token, which
 * JWT malleability would defeat: docs/security.md, "Logout on the JWT backends").
 */
export class KyselyTokenDenylist implements TokenDenylist {
  readonly #db: DynamicDb

  readonly #has: PreparedQuery

  constructor(db: DynamicDb) {
    this.#db = db
    this.#has = new PreparedQuery(db, (q, p) =>
      q.selectFrom('revoked_tokens').select('jti').where('jti', '=', p(0)),
    )
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    try {
      await this.#db.insertInto('revoked_tokens').values({ jti, expires_at: expiresAt }).execute()
    } catch (err) {
      if (!uniqueViolation(err)) throw err
    }
  }

  async has(jti: string): Promise<boolean> {
    return (await this.#has.execute([jti])).length > 0
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('revoked_tokens')
      .where('expires_at', '<', now)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
