/**
 * The plugin's database: connect to a URL (and close the pool on shutdown) or take the application's
 * Kysely instance, then run the migrations when asked.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { IdType } from '../core/user.js'
import { connectDatabase } from '../persistence/kysely/connect.js'
import { migrateToLatest } from '../persistence/kysely/index.js'
import type { FlatOptions } from './normalize-options.js'

/**
 * The database of the options, connected and migrated; `undefined` when none is given (a constructed
 * service brings its own repositories).
 *
 * @example
 * ```ts
 * const db = await setUpDatabase(fastify, { database: 'sqlite::memory:', migrate: true, backends: ['session'] }, 'uuid')
 * ```
 */
export async function setUpDatabase(
  fastify: FastifyInstance,
  options: Pick<FlatOptions, 'database' | 'connectTimeoutMs' | 'migrate' | 'migrations' | 'tables'>,
  idType: IdType,
): Promise<Kysely<unknown> | undefined> {
  if (options.database === undefined) return undefined
  let db: Kysely<unknown>
  let ownsDb = false
  if (typeof options.database === 'string') {
    db = (await connectDatabase<unknown>(options.database, { connectTimeoutMs: options.connectTimeoutMs })).db
    ownsDb = true
  } else {
    db = options.database
  }
  // Registered first, so it runs last on close; and it runs even when a later step of the registration
  // throws (a bad option, a failed migration), so a failed boot leaves no pool open.
  fastify.addHook('onClose', async () => {
    if (ownsDb) await db.destroy()
  })
  if (options.migrate) {
    const { executed } = await migrateToLatest(db, {
      idType,
      migrations: options.migrations,
      tables: options.tables,
    })
    if (executed.length > 0) fastify.log.info({ migrations: executed }, 'fastify-users: migrations applied')
  }
  return db
}
