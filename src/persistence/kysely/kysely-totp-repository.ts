/**
 * The Kysely implementations of the TOTP factor's storage (`user_totp`) and of the step-up proofs
 * (`step_up_proofs`), both of migration `0008-totp`.
 *
 * @module
 */
import type { ProofKind, StepUpProof, StepUpStore } from '../../core/step-up.js'
import type { TotpRecord, TotpRepository } from '../../core/totp-repository.js'
import type { Id } from '../../core/user.js'
import type { DynamicDb } from './database.js'
import { toNumber } from './row-mapping.js'

const COLUMNS: Readonly<Record<Exclude<keyof TotpRecord, 'userId'>, string>> = {
  secret: 'secret',
  confirmedAt: 'confirmed_at',
  lastStep: 'last_step',
  recoveryCodes: 'recovery_codes',
  createdAt: 'created_at',
}

function toColumnValue(field: keyof typeof COLUMNS, value: unknown): unknown {
  return field === 'recoveryCodes' ? JSON.stringify(value) : value
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value)
}

/**
 * TOTP factors in a SQL database.
 *
 * @example
 * ```ts
 * const { totpRepository } = createKyselyRepositories(db)
 * ```
 */
export class KyselyTotpRepository implements TotpRepository {
  readonly #db: DynamicDb

  constructor(db: DynamicDb) {
    this.#db = db
  }

  async find(userId: Id): Promise<TotpRecord | null> {
    const row = await this.#db
      .selectFrom('user_totp')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst()
    if (!row) return null
    return {
      userId,
      secret: String(row.secret),
      confirmedAt: nullableNumber(row.confirmed_at),
      lastStep: nullableNumber(row.last_step),
      recoveryCodes: row.recovery_codes ? (JSON.parse(String(row.recovery_codes)) as string[]) : [],
      createdAt: toNumber(row.created_at),
    }
  }

  async save(record: TotpRecord): Promise<void> {
    // Delete then insert in one transaction: the same statements on every dialect.
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('user_totp').where('user_id', '=', record.userId).execute()
      await trx
        .insertInto('user_totp')
        .values({
          user_id: record.userId,
          secret: record.secret,
          confirmed_at: record.confirmedAt,
          last_step: record.lastStep,
          recovery_codes: JSON.stringify(record.recoveryCodes),
          created_at: record.createdAt,
        })
        .execute()
    })
  }

  async update(
    userId: Id,
    patch: Partial<Omit<TotpRecord, 'userId'>>,
    expect: Partial<TotpRecord>,
  ): Promise<boolean> {
    const values: Record<string, unknown> = {}
    for (const [field, value] of Object.entries(patch)) {
      const key = field as keyof typeof COLUMNS
      values[COLUMNS[key]] = toColumnValue(key, value)
    }
    let query = this.#db.updateTable('user_totp').set(values).where('user_id', '=', userId)
    for (const [field, value] of Object.entries(expect)) {
      if (field === 'userId') continue
      const key = field as keyof typeof COLUMNS
      query =
        value === null
          ? query.where(COLUMNS[key], 'is', null)
          : query.where(COLUMNS[key], '=', toColumnValue(key, value))
    }
    const result = await query.executeTakeFirst()
    return toNumber(result.numUpdatedRows) > 0
  }

  async delete(userId: Id): Promise<boolean> {
    const result = await this.#db.deleteFrom('user_totp').where('user_id', '=', userId).executeTakeFirst()
    return toNumber(result.numDeletedRows) > 0
  }
}

/**
 * Step-up proofs in a SQL database: the latest proof of each credential.
 *
 * @example
 * ```ts
 * const { stepUpStore } = createKyselyRepositories(db)
 * ```
 */
export class KyselyStepUpStore implements StepUpStore {
  readonly #db: DynamicDb

  constructor(db: DynamicDb) {
    this.#db = db
  }

  async record(credentialId: string, proof: StepUpProof, expiresAt: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('step_up_proofs').where('credential_id', '=', credentialId).execute()
      await trx
        .insertInto('step_up_proofs')
        .values({
          credential_id: credentialId,
          user_id: String(proof.userId),
          kind: proof.kind,
          proved_at: proof.provedAt,
          expires_at: expiresAt,
        })
        .execute()
    })
  }

  async latest(credentialId: string): Promise<StepUpProof | null> {
    const row = await this.#db
      .selectFrom('step_up_proofs')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .executeTakeFirst()
    if (!row) return null
    return {
      userId: String(row.user_id),
      kind: String(row.kind) as ProofKind,
      provedAt: toNumber(row.proved_at),
    }
  }

  async deleteExpired(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('step_up_proofs')
      .where('expires_at', '<', before)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows)
  }
}
