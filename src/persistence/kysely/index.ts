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
import { KyselyOAuthAccountRepository } from './kysely-oauth-account-repository.js'
import { KyselyPasskeyRepository } from './kysely-passkey-repository.js'
import { KyselyRefreshTokenStore } from './kysely-refresh-token-store.js'
import { KyselyRoleRepository } from './kysely-role-repository.js'
import { KyselySessionRepository, KyselyTokenDenylist } from './kysely-session-repository.js'
import { KyselyStepUpStore, KyselyTotpRepository } from './kysely-totp-repository.js'
import { type KyselyRepositoryOptions, KyselyUserRepository } from './kysely-user-repository.js'
import { resolveTableNames, type TableNamesOption, withTableNames } from './table-names.js'

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
export { KyselyOAuthAccountRepository } from './kysely-oauth-account-repository.js'
export { KyselyRefreshTokenStore } from './kysely-refresh-token-store.js'
export { KyselyRoleRepository } from './kysely-role-repository.js'
export { KyselySessionRepository, KyselyTokenDenylist } from './kysely-session-repository.js'
export { KyselyStepUpStore, KyselyTotpRepository } from './kysely-totp-repository.js'
export { type KyselyRepositoryOptions, KyselyUserRepository } from './kysely-user-repository.js'
export { type MigrateOptions, type MigrateResult, migrateToLatest } from './migrate.js'
export { identifierType, MYSQL_IDENTIFIER_COLLATION } from './migrations/identifier-column.js'
export { PgInvalidationBus, type PgInvalidationBusOptions } from './pg-invalidation-bus.js'
export { type ResilientDialectOptions, resilientDialect } from './resilient-dialect.js'
export {
  indexName,
  resolveTableNames,
  type TableNames,
  type TableNamesOption,
  withTableNames,
} from './table-names.js'

/** Every repository the service and the plugin need, over one Kysely instance. */
export interface KyselyRepositories<U extends BaseUser = BaseUser, R extends Role = Role> {
  userRepository: KyselyUserRepository<U>
  roleRepository: KyselyRoleRepository<R>
  sessionRepository: KyselySessionRepository
  oauthAccountRepository: KyselyOAuthAccountRepository
  tokenDenylist: KyselyTokenDenylist
  /** Failed-login counters; passing it to the service (as the spread below does) turns throttling on. */
  loginAttemptStore: KyselyLoginAttemptStore
  /** Serialises admin removals across every instance on this database (the last-admin rule). */
  adminLock: KyselyExclusiveLock
  /** Mail counters per kind and address; passing it to the service (as the spread does) turns the cap on. */
  mailCapStore: KyselyMailCapStore
  /** Refresh tokens of the JWT backends (hashed), with their families. */
  refreshTokenStore: KyselyRefreshTokenStore
  /** TOTP second factors, for `TwoFactor` (the service itself ignores it). */
  totpRepository: KyselyTotpRepository
  /** Recent proofs of identity per credential, for `TwoFactor` (the service itself ignores it). */
  stepUpStore: KyselyStepUpStore
  /** Passkeys and their challenges; used by the `passkeys` feature when it is on. */
  passkeyRepository: KyselyPasskeyRepository
}

/** Options of {@link createKyselyRepositories}. */
export interface CreateKyselyRepositoriesOptions extends KyselyRepositoryOptions {
  /**
   * The table names the schema was migrated with (the same `tables` as `migrateToLatest`). Default: the
   * plain names (`users`, `roles`, ...).
   */
  tables?: TableNamesOption
}

/**
 * Builds every repository over one Kysely instance.
 *
 * @throws TypeError for invalid `tables`.
 *
 * @example
 * ```ts
 * const { db } = await connectDatabase('sqlite:data/app.db')
 * await migrateToLatest(db)
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) })
 * // on prefixed tables:
 * const repositories = createKyselyRepositories(db, { tables: { prefix: 'auth_' } })
 * ```
 */
export function createKyselyRepositories<U extends BaseUser = BaseUser, R extends Role = Role, DB = unknown>(
  db: Kysely<DB>,
  options: CreateKyselyRepositoriesOptions = {},
): KyselyRepositories<U, R> {
  const { tables, ...repositoryOptions } = options
  const dynamic = withTableNames(db as unknown as DynamicDb, resolveTableNames(tables))
  return {
    userRepository: new KyselyUserRepository<U>(dynamic, repositoryOptions),
    roleRepository: new KyselyRoleRepository<R>(dynamic, repositoryOptions),
    sessionRepository: new KyselySessionRepository(dynamic, repositoryOptions),
    oauthAccountRepository: new KyselyOAuthAccountRepository(dynamic, repositoryOptions),
    tokenDenylist: new KyselyTokenDenylist(dynamic),
    loginAttemptStore: new KyselyLoginAttemptStore(dynamic),
    adminLock: new KyselyExclusiveLock(dynamic),
    mailCapStore: new KyselyMailCapStore(dynamic),
    refreshTokenStore: new KyselyRefreshTokenStore(dynamic),
    totpRepository: new KyselyTotpRepository(dynamic),
    stepUpStore: new KyselyStepUpStore(dynamic),
    passkeyRepository: new KyselyPasskeyRepository(dynamic, repositoryOptions),
  }
}
