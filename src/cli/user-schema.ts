/**
 * What the CLI learns from the database itself: the id type of the schema and the application's custom
 * user columns. Reading them by introspection lets `fastify-users create-user --str-attrs displayName=Ada`
 * work on any application's schema with no configuration file to keep in sync with its migrations.
 *
 * @module
 */
import { type Kysely, sql } from 'kysely'
import type { IdType, UserFieldSchema } from '../core/user.js'
import type { DatabaseDialect } from '../persistence/kysely/connect.js'
import { BUILT_IN_USER_COLUMNS } from '../persistence/kysely/database.js'
import { toColumn, toField } from '../persistence/kysely/row-mapping.js'

/** The JSON type of a custom column, as far as its SQL type tells; `undefined` for dates, JSON and the like. */
export type CustomFieldType = 'string' | 'integer' | 'number' | 'boolean' | undefined

/** One custom column of `users`. */
export interface CustomField {
  /** The camelCase name the service and the flags use, e.g. `displayName`. */
  field: string
  /** The snake_case column, e.g. `display_name`. */
  column: string
  /** The SQL type as the database reports it (lower-cased). */
  dataType: string
  type: CustomFieldType
  /** `NOT NULL` without a default: an insert without it fails, so `create-user` asks for it up front. */
  required: boolean
}

/** The users table of a migrated database. */
export interface UserSchema {
  /** From the type of `users.id`: a string type means UUIDs, an integer type auto-increment ids. */
  idType: IdType
  /** The custom columns by camelCase field name. */
  customFields: ReadonlyMap<string, CustomField>
  /** The same, as the `userFields` the repositories take. */
  userFields: Record<string, UserFieldSchema>
}

/**
 * Reads the users table (`users`, or the name given, e.g. `auth_users` with a table prefix). Returns `null`
 * when there is none, or when it lacks fastify-users' columns (a table of another application, or a
 * database that was never migrated).
 *
 * @example
 * ```ts
 * const schema = await readUserSchema(db, 'postgres')
 * if (!schema) throw new Error('run `fastify-users migrate` first')
 * const repositories = createKyselyRepositories(db, { idType: schema.idType, userFields: schema.userFields })
 * ```
 */
export async function readUserSchema(
  db: Kysely<unknown>,
  dialect: DatabaseDialect,
  usersTable = 'users',
): Promise<UserSchema | null> {
  const candidates = (await db.introspection.getTables()).filter((t) => t.name === usersTable && !t.isView)
  let table = candidates[0]
  if (candidates.length > 1 && dialect === 'postgres') {
    // Several schemas may have a `users` table; unqualified queries use the first one on the search path.
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
    table = candidates.find((t) => t.schema === rows[0]?.schema) ?? table
  }
  if (!table) return null
  const columns = new Map(table.columns.map((c) => [c.name, c]))
  for (const builtIn of BUILT_IN_USER_COLUMNS) if (!columns.has(builtIn)) return null

  const idDataType = columns.get('id')!.dataType.toLowerCase()
  const idType: IdType = /int|serial/.test(idDataType) ? 'integer' : 'uuid'

  // MySQL and MariaDB have no boolean type: `boolean` columns are `tinyint(1)`, and only the full column
  // type (not the data type the introspector reports) tells them from other tinyints.
  const mysqlBooleans = dialect === 'mysql' ? await mysqlBooleanColumns(db, usersTable) : new Set<string>()

  const customFields = new Map<string, CustomField>()
  const userFields: Record<string, UserFieldSchema> = {}
  for (const column of table.columns) {
    if (BUILT_IN_USER_COLUMNS.has(column.name)) continue
    const field = toField(column.name)
    // The repositories map fields to columns by camelCase <-> snake_case; a column that does not survive
    // the round trip (say `nickName`) cannot be written through them, so it is left to the application.
    if (toColumn(field) !== column.name) continue
    const dataType = column.dataType.toLowerCase()
    const type = mysqlBooleans.has(column.name) ? 'boolean' : jsonType(dataType)
    customFields.set(field, {
      field,
      column: column.name,
      dataType,
      type,
      required: !column.isNullable && !column.hasDefaultValue && !column.isAutoIncrementing,
    })
    userFields[field] = type === undefined ? {} : { type }
  }
  return { idType, customFields, userFields }
}

function jsonType(dataType: string): CustomFieldType {
  if (/^bool/.test(dataType)) return 'boolean'
  if (/int|serial/.test(dataType)) return 'integer'
  if (/real|float|double|numeric|decimal/.test(dataType)) return 'number'
  if (/char|text|clob|uuid|enum|string/.test(dataType)) return 'string'
  return undefined
}

async function mysqlBooleanColumns(db: Kysely<unknown>, usersTable: string): Promise<Set<string>> {
  const { rows } = await sql<{ name: string; type: string }>`
    select column_name as name, column_type as type from information_schema.columns
    where table_schema = database() and table_name = ${usersTable}`.execute(db)
  return new Set(rows.filter((r) => /^tinyint\(1\)/i.test(String(r.type))).map((r) => String(r.name)))
}
