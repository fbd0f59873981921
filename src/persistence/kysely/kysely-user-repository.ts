/**
 * The Kysely implementation of the core's `UserRepository`, one code path for SQLite, PostgreSQL and
 * MySQL/MariaDB.
 *
 * @module
 */
import { type Expression, type SqlBool, sql } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import { foldIdentifier } from '../../core/identifiers.js'
import type {
  NewUserRecord,
  UserExpectation,
  UserListQuery,
  UserOrderField,
  UserPage,
  UserRecordPatch,
  UserRepository,
  UserUpdateOptions,
} from '../../core/repositories.js'
import type { BaseUser, Id, IdType, Role, UserFieldSchema } from '../../core/user.js'
import { supportsReturning } from './capabilities.js'
import { type DatabaseDialect, detectDialect } from './connect.js'
import { uniqueViolation } from './constraint-errors.js'
import { decodeUserCursor, encodeUserCursor } from './cursor.js'
import type { DynamicDb, DynamicUsersEb } from './database.js'
import { PreparedQuery } from './prepared-query.js'
import { rowToRole, rowToUser, toColumn, toDbBoolean, toNumber, userValuesToRow } from './row-mapping.js'

/** Options shared by the Kysely repositories. */
export interface KyselyRepositoryOptions {
  /** Id type of users and roles; must match the migrated schema. Default: `'uuid'`. */
  idType?: IdType
  /** The application's custom user columns (camelCase name to JSON schema). Default: none. */
  userFields?: Readonly<Record<string, UserFieldSchema>>
  /** Injected time in epoch milliseconds, for `createdAt` and `updatedAt`. Default: `Date.now`. */
  now?: () => number
}

/** The columns a compare-and-set update may expect a value of. */
const EXPECTABLE_COLUMNS: Record<keyof UserExpectation, string> = {
  passwordHash: 'password_hash',
  authVersion: 'auth_version',
  email: 'email',
  isActive: 'is_active',
  isVerified: 'is_verified',
  pendingEmail: 'pending_email',
}

const ORDER_COLUMNS: Record<UserOrderField, string> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  email: 'email',
  id: 'id',
}

type Eb = DynamicUsersEb

/** How many distinct `findOne` filter shapes keep their compiled query. */
const MAX_CACHED_FILTER_QUERIES = 32

// The role columns a user row carries when it is read with its roles (one row per role, or one with nulls).
const ROLE_COLUMNS = [
  'roles.id as fu_role_id',
  'roles.name as fu_role_name',
  'roles.description as fu_role_description',
] as const

/**
 * Users in a SQL database through Kysely.
 *
 * @example
 * ```ts
 * const users = new KyselyUserRepository(db, { userFields: { displayName: { type: 'string' } } })
 * ```
 */
export class KyselyUserRepository<U extends BaseUser = BaseUser> implements UserRepository<U> {
  readonly idType: IdType
  readonly userFields: Readonly<Record<string, UserFieldSchema>>
  readonly #db: DynamicDb
  readonly #dialect: DatabaseDialect
  readonly #now: () => number
  /** Whether the dialect has `UPDATE ... RETURNING` (Kysely's adapter capability, not a dialect name). */
  readonly #supportsReturning: boolean

  readonly #byId: PreparedQuery
  /** `findOne`'s queries by the fields they filter on (a login looks a user up by email, always the same). */
  readonly #byFilters = new Map<string, PreparedQuery>()

  constructor(db: DynamicDb, options: KyselyRepositoryOptions = {}) {
    this.#db = db
    this.#byId = new PreparedQuery(db, (q, p) =>
      q
        .selectFrom('users')
        .leftJoin('user_roles', 'user_roles.user_id', 'users.id')
        .leftJoin('roles', 'roles.id', 'user_roles.role_id')
        .selectAll('users')
        .select(ROLE_COLUMNS)
        .where('users.id', '=', p(0))
        .orderBy('roles.name'),
    )
    this.#dialect = detectDialect(db)
    this.#supportsReturning = supportsReturning(db)
    this.idType = options.idType ?? 'uuid'
    this.userFields = Object.freeze({ ...options.userFields })
    this.#now = options.now ?? Date.now
  }

  async insert(record: NewUserRecord): Promise<U> {
    const now = this.#now()
    const id = record.id ?? (this.idType === 'uuid' ? uuidv7() : undefined)
    const row = {
      ...userValuesToRow({ ...record, id }, this.#dialect, this.userFields),
      auth_version: 0,
      created_at: now,
      updated_at: now,
    }
    let insertedId: Id
    try {
      if (id !== undefined) {
        await this.#db.insertInto('users').values(row).execute()
        insertedId = id
        if (this.idType === 'integer' && this.#dialect === 'postgres') await this.#passIdSequence(id)
      } else if (!this.#supportsReturning) {
        const result = await this.#db.insertInto('users').values(row).executeTakeFirstOrThrow()
        insertedId = toNumber(result.insertId)
      } else {
        const result = await this.#db
          .insertInto('users')
          .values(row)
          .returning('id')
          .executeTakeFirstOrThrow()
        insertedId = toNumber(result.id)
      }
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
    const user = await this.findById(insertedId)
    if (!user) throw new Error('fastify-users: inserted user not found')
    return user
  }

  async findById(id: Id): Promise<U | null> {
    // The hot path of every authenticated request: one prepared query for the user and their roles.
    return this.#joinedUser(await this.#byId.execute([id]))
  }

  async findOne(filters: Record<string, unknown>): Promise<U | null> {
    const fields = Object.keys(filters)
    const values = fields.map((field) => {
      const value = filters[field]
      return typeof value === 'boolean' ? toDbBoolean(this.#dialect, value) : value
    })
    // The user and their roles in one statement (a login's lookup): the user is chosen in a derived table,
    // so a filter that several users match still yields one user's rows.
    const signature = fields.join('\0')
    let query = this.#byFilters.get(signature)
    if (!query) {
      const columns = fields.map((field) => this.#column(field))
      query = new PreparedQuery(this.#db, (q, p) => {
        let chosen = q.selectFrom('users').selectAll()
        columns.forEach((column, index) => {
          chosen = chosen.where(column, '=', p(index))
        })
        // A literal LIMIT lets SQLite plan the lookup as a unique-index search (a bound one halves its speed).
        return q
          .selectFrom(chosen.limit(sql.lit(1)).as('fu_user'))
          .leftJoin('user_roles', 'user_roles.user_id', 'fu_user.id')
          .leftJoin('roles', 'roles.id', 'user_roles.role_id')
          .selectAll('fu_user')
          .select(ROLE_COLUMNS)
          .orderBy('roles.name')
      })
      // The field names are checked above (#column), so the combinations are few; the bound is a backstop.
      if (this.#byFilters.size < MAX_CACHED_FILTER_QUERIES) this.#byFilters.set(signature, query)
    }
    return this.#joinedUser(await query.execute(values))
  }

  async list(query: UserListQuery): Promise<UserPage<U>> {
    const order = query.orderBy ?? { field: 'createdAt', direction: 'asc' }
    const orderColumn = ORDER_COLUMNS[order.field]
    if (!orderColumn) throw new TypeError(`cannot order users by ${String(order.field)}`)
    const filtered = (eb: Eb): Expression<SqlBool> => this.#filters(eb, query.filters ?? {})

    const totalRow = await this.#db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(filtered)
      .executeTakeFirstOrThrow()

    let page = this.#db.selectFrom('users').selectAll().where(filtered)
    const scope = { ...order, filters: query.filters }
    const cursor = query.cursor ? decodeUserCursor(query.cursor, scope, this.idType) : null
    const forward = order.direction === 'asc' ? '>' : '<'
    if (cursor) {
      const [value, id] = cursor
      page = page.where((eb) =>
        eb.or([
          eb(orderColumn, forward, value),
          eb.and([eb(orderColumn, '=', value), eb('id', forward, id)]),
        ]),
      )
    }
    page = page
      .orderBy(orderColumn, order.direction)
      .orderBy('id', order.direction)
      .limit(query.limit + 1)
    if (!cursor && query.offset) page = page.offset(query.offset)
    const rows = await page.execute()
    const hasMore = rows.length > query.limit
    const pageRows = rows.slice(0, query.limit)
    const last = pageRows.at(-1)
    return {
      items: await this.#withRoles(pageRows),
      total: toNumber(totalRow.n),
      nextCursor: hasMore && last ? encodeUserCursor(scope, this.idType, last[orderColumn], last.id) : null,
    }
  }

  async update(id: Id, patch: UserRecordPatch, options: UserUpdateOptions = {}): Promise<U | null> {
    const { incrementAuthVersion, ...values } = patch
    const row: Record<string, unknown> = {
      ...userValuesToRow(values, this.#dialect, this.userFields),
      updated_at: this.#now(),
    }
    const set = (eb: Eb) =>
      incrementAuthVersion ? { ...row, auth_version: eb('auth_version', '+', 1) } : row
    const expected = this.#expected(id, options.expect)
    try {
      if (this.#supportsReturning) {
        // One statement decides and reports: the row it returns is the one this update wrote, and the
        // expectation is checked by the same statement, so concurrent writers cannot both match it.
        const written = await this.#db
          .updateTable('users')
          .set(set)
          .where((eb) => eb.and(expected(eb)))
          .returningAll()
          .executeTakeFirst()
        if (!written) return null
        const [user] = await this.#withRoles([written])
        return user ?? null
      }
      // No RETURNING for UPDATE (MySQL/MariaDB): lock the row first, so that nobody writes it between the
      // check, the update and the read that reports what this update wrote.
      return await this.#db.transaction().execute(async (trx) => {
        const locked = await trx
          .selectFrom('users')
          .select('id')
          .where((eb) => eb.and(expected(eb)))
          .forUpdate()
          .executeTakeFirst()
        if (!locked) return null
        await trx.updateTable('users').set(set).where('id', '=', id).execute()
        const written = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
        if (!written) return null
        const [user] = await this.#withRoles([written], trx)
        return user ?? null
      })
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
  }

  async delete(id: Id): Promise<U | null> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      if (!row) return null
      const [user] = await this.#withRoles([row], trx)
      // Explicit deletes, not only ON DELETE CASCADE: an application-built SQLite connection may run
      // without `PRAGMA foreign_keys = ON`, and orphaned sessions must never outlive their user.
      await trx.deleteFrom('user_roles').where('user_id', '=', id).execute()
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute()
      const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst()
      // Concurrent deletes may all have read the row; only the one whose DELETE removed it won.
      if (toNumber(result.numDeletedRows) === 0) return null
      return user ?? null
    })
  }

  /**
   * Moves PostgreSQL's id sequence past an id given explicitly (an import, `create-user --id`): unlike
   * SQLite's and MySQL's auto-increment, a sequence does not notice it, and the next insert without an id
   * would draw the same number and fail. Only ever forward, so a smaller given id never rewinds it.
   */
  async #passIdSequence(id: Id): Promise<void> {
    // The table's real name (it may be renamed by the `tables` option) comes from a row just written.
    const table = sql`(select tableoid::regclass::text from ${sql.table('users')} limit 1)`
    const sequence = sql`pg_get_serial_sequence(${table}, 'id')`
    const last = sql`coalesce(pg_sequence_last_value(${sequence}::regclass), 0)`
    await sql`select setval(${sequence}, greatest(${id}::bigint, ${last}))`.execute(this.#db)
  }

  /** The conditions of an update of `id` that expects `expect`. */
  #expected(id: Id, expect: UserExpectation = {}): (eb: Eb) => Expression<SqlBool>[] {
    return (eb) => {
      const conditions: Expression<SqlBool>[] = [eb('id', '=', id)]
      for (const [field, value] of Object.entries(expect) as [keyof UserExpectation, unknown][]) {
        if (value === undefined) continue
        const column = EXPECTABLE_COLUMNS[field]
        if (!column) throw new TypeError(`cannot expect a value of user field '${String(field)}'`)
        conditions.push(
          value === null
            ? eb(column, 'is', null)
            : eb(column, '=', typeof value === 'boolean' ? toDbBoolean(this.#dialect, value) : value),
        )
      }
      return conditions
    }
  }

  #column(field: string): string {
    if (field === 'passwordHash') return 'password_hash'
    if (['id', 'email', 'username', 'isActive', 'isVerified', 'createdAt', 'updatedAt'].includes(field)) {
      return toColumn(field)
    }
    if (Object.hasOwn(this.userFields, field)) return toColumn(field)
    throw new TypeError(`unknown user field '${field}'`)
  }

  #filters(eb: Eb, filters: NonNullable<UserListQuery['filters']>): Expression<SqlBool> {
    const conditions: Expression<SqlBool>[] = []
    for (const [field, value] of Object.entries(filters)) {
      if (value === undefined) continue
      if (field === 'email') {
        // Emails are stored folded (foldIdentifier), so the search text is folded alike; `!` escapes LIKE's
        // wildcards so user input matches literally.
        const pattern = `%${foldIdentifier(String(value)).replace(/[!%_]/g, '!$&')}%`
        conditions.push(sql<SqlBool>`email like ${pattern} escape '!'`)
      } else if (field === 'role') {
        conditions.push(
          eb.exists(
            eb
              .selectFrom('user_roles')
              .innerJoin('roles', 'roles.id', 'user_roles.role_id')
              .select(sql`1`.as('one'))
              .whereRef('user_roles.user_id', '=', 'users.id')
              .where('roles.name', '=', String(value)),
          ),
        )
      } else {
        const column = this.#column(field)
        conditions.push(
          eb(`users.${column}`, '=', typeof value === 'boolean' ? toDbBoolean(this.#dialect, value) : value),
        )
      }
    }
    return eb.and(conditions)
  }

  /** One user from the rows of a `users left join user_roles left join roles` read, or `null` for none. */
  #joinedUser(rows: Record<string, unknown>[]): U | null {
    const first = rows[0]
    if (!first) return null
    const roles: Role[] = []
    for (const row of rows) {
      if (row.fu_role_id === null || row.fu_role_id === undefined) continue
      roles.push(
        rowToRole(
          { id: row.fu_role_id, name: row.fu_role_name, description: row.fu_role_description },
          this.idType,
        ),
      )
    }
    return rowToUser<U>(first, roles, this.idType, this.userFields)
  }

  async #withRoles(rows: Record<string, unknown>[], db: DynamicDb = this.#db): Promise<U[]> {
    if (rows.length === 0) return []
    const links = await db
      .selectFrom('user_roles')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select([
        'user_roles.user_id as user_id',
        'roles.id as id',
        'roles.name as name',
        'roles.description as description',
      ])
      .where(
        'user_roles.user_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('roles.name')
      .execute()
    const byUser = new Map<string, Role[]>()
    for (const link of links) {
      const key = String(link.user_id)
      const list = byUser.get(key) ?? []
      list.push(rowToRole(link, this.idType))
      byUser.set(key, list)
    }
    return rows.map((row) =>
      rowToUser<U>(row, byUser.get(String(row.id)) ?? [], this.idType, this.userFields),
    )
  }
}
