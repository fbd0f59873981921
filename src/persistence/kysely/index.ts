/**
 * `fastify-users/kysely`: the SQL persistence (SQLite, PostgreSQL, MySQL/MariaDB) through Kysely.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import type { BaseUser, Role } from '../../core/user.js'
import type { DynamicDb } from './database.js'
import { KyselyExclusiveLock } from './kysely-exclusive-lock.js'
import { KyselyLoginAttemptStore } from './kysely-login-attempt-store.js'
import { KyselyMailCapStore } from './kysely-mail-cap-store.js'
import { KyselyRoleRepository } from './kysely-role-repository.js'
import { KyselySessionRepository, KyselyTokenDenylist } from './kysely-session-repository.js'
import { type KyselyRepositoryOptions, KyselyUserRepository } from './kysely-user-repository.js'

export {
  type ConnectedDatabase,
  type ConnectOptions,
  connectDatabase,
  type DatabaseDialect,
  detectDialect,
} from './connect.js'
export type { FastifyUsersDatabase } from './database.js'
export { isUnavailable, translateDriverError } from './driver-errors.js'
export { KyselyExclusiveLock } from './kysely-exclusive-lock.js'
export { KyselyLoginAttemptStore } from './kysely-login-attempt-store.js'
export { KyselyMailCapStore } from './kysely-mail-cap-store.js'
export { KyselyRoleRepository } from './kysely-role-repository.js'
export { KyselySessionRepository, KyselyTokenDenylist } from './kysely-session-repository.js'
export { type KyselyRepositoryOptions, KyselyUserRepository } from './kysely-user-repository.js'
export { type MigrateOptions, type MigrateResult, migrateToLatest } from './migrate.js'
export { identifierType, MYSQL_IDENTIFIER_COLLATION } from './migrations/identifier-column.js'
export { type ResilientDialectOptions, resilientDialect } from './resilient-dialect.js'

/** Every repository the service and the plugin need, over one Kysely instance. */
export interface KyselyRepositories<U extends BaseUser = BaseUser, R extends Role = Role> {
  userRepository: KyselyUserRepository<U>
  roleRepository: KyselyRoleRepository<R>
  sessionRepository: KyselySessionRepository
  tokenDenylist: KyselyTokenDenylist
  /** Failed-login counters; passing it to the service (as the spread below does) turns throttling on. */
  loginAttemptStore: KyselyLoginAttemptStore
  /** Serialises admin removals across every instance on this database (the last-admin rule). */
  adminLock: KyselyExclusiveLock
  /** Mail counters per kind and address; passing it to the service (as the spread does) turns the cap on. */
  mailCapStore: KyselyMailCapStore
}

/**
 * Builds every repository over one Kysely instance.
 *
 * @example
 * ```ts
 * const { db } = await connectDatabase('sqlite:data/app.db')
 * await migrateToLatest(db)
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) })
 * ```
 */
export function createKyselyRepositories<U extends BaseUser = BaseUser, R extends Role = Role, DB = unknown>(
  db: Kysely<DB>,
  options: KyselyRepositoryOptions = {},
): KyselyRepositories<U, R> {
  const dynamic = db as unknown as DynamicDb
  return {
    userRepository: new KyselyUserRepository<U>(dynamic, options),
    roleRepository: new KyselyRoleRepository<R>(dynamic, options),
    sessionRepository: new KyselySessionRepository(dynamic, options),
    tokenDenylist: new KyselyTokenDenylist(dynamic),
    loginAttemptStore: new KyselyLoginAttemptStore(dynamic),
    adminLock: new KyselyExclusiveLock(dynamic),
    mailCapStore: new KyselyMailCapStore(dynamic),
  }
}
