/**
 * The Kysely implementation of the core's `OAuthAccountRepository` (the `oauth_accounts` table of
 * migration `0010-oauth-accounts`).
 *
 * @module
 */
import type {
  LinkedAccount,
  OAuthAccountRepository,
  RemainingLogins,
  UnlinkOutcome,
} from '../../core/oauth-accounts.js'
import type { Id, IdType } from '../../core/user.js'
import { detectDialect } from './connect.js'
import { uniqueViolation } from './constraint-errors.js'
import type { DynamicDb } from './database.js'
import { lockLoginMethods } from './login-methods.js'
import { toNumber } from './row-mapping.js'

/**
 * Provider links in a SQL database. `(provider, subject)` is the primary key, so two concurrent callbacks
 * for one identity cannot both link it: the second insert throws `ConflictError`.
 *
 * @example
 * ```ts
 * const oauthAccounts = new KyselyOAuthAccountRepository(db, { idType: 'uuid' })
 * ```
 */
export class KyselyOAuthAccountRepository implements OAuthAccountRepository {
  readonly #db: DynamicDb
  readonly #idType: IdType
  /** `SELECT ... FOR UPDATE` exists (PostgreSQL, MySQL/MariaDB), not on SQLite. */
  readonly #lockRows: boolean

  constructor(db: DynamicDb, options: { idType?: IdType } = {}) {
    this.#db = db
    this.#idType = options.idType ?? 'uuid'
    this.#lockRows = detectDialect(db) !== 'sqlite'
  }

  #toAccount(row: Record<string, unknown>): LinkedAccount {
    return {
      provider: String(row.provider),
      subject: String(row.subject),
      userId: this.#idType === 'integer' ? toNumber(row.user_id) : String(row.user_id),
      email: (row.email as string | null) ?? null,
      createdAt: toNumber(row.created_at),
    }
  }

  async find(provider: string, subject: string): Promise<LinkedAccount | null> {
    const row = await this.#db
      .selectFrom('oauth_accounts')
      .selectAll()
      .where('provider', '=', provider)
      .where('subject', '=', subject)
      .executeTakeFirst()
    return row ? this.#toAccount(row) : null
  }

  async listForUser(userId: Id): Promise<LinkedAccount[]> {
    const rows = await this.#db
      .selectFrom('oauth_accounts')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('provider')
      .execute()
    return rows.map((row) => this.#toAccount(row))
  }

  async insert(account: LinkedAccount): Promise<void> {
    try {
      await this.#db
        .insertInto('oauth_accounts')
        .values({
          provider: account.provider,
          subject: account.subject,
          user_id: account.userId,
          email: account.email,
          created_at: account.createdAt,
        })
        .execute()
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
  }

  async setTokens(provider: string, subject: string, sealed: string | null): Promise<void> {
    await this.#db
      .updateTable('oauth_accounts')
      .set({ tokens: sealed })
      .where('provider', '=', provider)
      .where('subject', '=', subject)
      .execute()
  }

  async findTokens(userId: Id, provider: string): Promise<{ subject: string; tokens: string | null } | null> {
    const row = await this.#db
      .selectFrom('oauth_accounts')
      .select(['subject', 'tokens'])
      .where('user_id', '=', userId)
      .where('provider', '=', provider)
      .executeTakeFirst()
    return row ? { subject: String(row.subject), tokens: (row.tokens as string | null) ?? null } : null
  }

  async deleteIf(
    userId: Id,
    provider: string,
    mayDelete: (remaining: RemainingLogins) => boolean,
  ): Promise<UnlinkOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      // Every writer that takes away a way to log in first locks the user's row (login-methods.ts), so
      // they run one after the other and each reads what the previous one left.
      const methods = await lockLoginMethods(trx, userId, this.#lockRows)
      if (!methods?.providers.includes(provider)) return 'missing'
      const remaining = {
        passwordHash: methods.passwordHash,
        otherProviders: methods.providers.filter((linked) => linked !== provider),
        passkeys: methods.passkeyIds.length,
      }
      if (!mayDelete(remaining)) return 'refused'
      await trx
        .deleteFrom('oauth_accounts')
        .where('user_id', '=', userId)
        .where('provider', '=', provider)
        .execute()
      return 'deleted'
    })
  }
}
