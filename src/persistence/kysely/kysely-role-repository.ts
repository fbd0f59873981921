/**
 * The Kysely implementation of the core's `RoleRepository`, with the `user_roles` links.
 *
 * @module
 */
import { v7 as uuidv7 } from 'uuid'
import type { RoleRepository } from '../../core/repositories.js'
import type { Id, IdType, Role } from '../../core/user.js'
import { supportsReturning } from './capabilities.js'
import { detectDialect } from './connect.js'
import { uniqueViolation } from './constraint-errors.js'
import type { DynamicDb } from './database.js'
import { rowToRole, toNumber } from './row-mapping.js'

/**
 * Roles in a SQL database through Kysely. Names arrive canonical (lower-cased) from the service.
 *
 * @example
 * ```ts
 * const roles = new KyselyRoleRepository(db)
 * ```
 */
export class KyselyRoleRepository<R extends Role = Role> implements RoleRepository<R> {
  readonly idType: IdType
  readonly #db: DynamicDb

  constructor(db: DynamicDb, options: { idType?: IdType } = {}) {
    this.#db = db
    // Refuses a dialect fastify-users does not support, at construction rather than at the first query.
    detectDialect(db)
    this.idType = options.idType ?? 'uuid'
  }

  async insert(record: { name: string; description?: string | null }): Promise<R> {
    const row = { name: record.name, description: record.description ?? null }
    try {
      if (this.idType === 'uuid') {
        const id = uuidv7()
        await this.#db
          .insertInto('roles')
          .values({ id, ...row })
          .execute()
        return rowToRole<R>({ id, ...row }, this.idType)
      }
      if (!supportsReturning(this.#db)) {
        const result = await this.#db.insertInto('roles').values(row).executeTakeFirstOrThrow()
        return rowToRole<R>({ id: result.insertId, ...row }, this.idType)
      }
      const result = await this.#db.insertInto('roles').values(row).returning('id').executeTakeFirstOrThrow()
      return rowToRole<R>({ id: result.id, ...row }, this.idType)
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
  }

  async findById(id: Id): Promise<R | null> {
    const row = await this.#db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? rowToRole<R>(row, this.idType) : null
  }

  async findByName(name: string): Promise<R | null> {
    const row = await this.#db.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst()
    return row ? rowToRole<R>(row, this.idType) : null
  }

  async list(): Promise<R[]> {
    const rows = await this.#db.selectFrom('roles').selectAll().orderBy('name').execute()
    return rows.map((row) => rowToRole<R>(row, this.idType))
  }

  async update(id: Id, patch: { name?: string; description?: string | null }): Promise<R | null> {
    const values: Record<string, unknown> = {}
    if (patch.name !== undefined) values.name = patch.name
    if (patch.description !== undefined) values.description = patch.description
    if (Object.keys(values).length > 0) {
      try {
        await this.#db.updateTable('roles').set(values).where('id', '=', id).execute()
      } catch (err) {
        throw uniqueViolation(err) ?? err
      }
    }
    return this.findById(id)
  }

  async delete(id: Id): Promise<R | null> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst()
      if (!row) return null
      await trx.deleteFrom('user_roles').where('role_id', '=', id).execute()
      await trx.deleteFrom('roles').where('id', '=', id).execute()
      return rowToRole<R>(row, this.idType)
    })
  }

  async assign(userId: Id, roleId: Id): Promise<boolean> {
    try {
      await this.#db.insertInto('user_roles').values({ user_id: userId, role_id: roleId }).execute()
      return true
    } catch (err) {
      // The primary key decides "already assigned", so two concurrent assignments cannot both succeed.
      if (uniqueViolation(err)) return false
      throw err
    }
  }

  async revoke(userId: Id, roleId: Id): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('user_roles')
      .where('user_id', '=', userId)
      .where('role_id', '=', roleId)
      .executeTakeFirst()
    return toNumber(result.numDeletedRows) > 0
  }
}
