/**
 * The one lock every SQL writer that takes away a way to log in (unlinking a provider, removing a passkey)
 * takes first: the user's row, `FOR UPDATE`. Under it the writer reads every way to log in the user has,
 * so two such writers of one user run one after the other and the second sees what the first left.
 *
 * @module
 */
import type { Id } from '../../core/user.js'
import type { DynamicDb } from './database.js'

/**
 * What a user can log in with, read under the lock on the user's row.
 *
 * @example
 * ```ts
 * const methods: LockedLoginMethods = { passwordHash: '!oauth', providers: ['github'], passkeyIds: [] }
 * ```
 */
export interface LockedLoginMethods {
  passwordHash: string
  /** The linked providers. */
  providers: string[]
  /** The ids of the user's passkeys. */
  passkeyIds: string[]
}

/**
 * Locks the user's row (PostgreSQL and MySQL/MariaDB; SQLite's one connection runs the transaction alone
 * and needs none) and reads the user's ways to log in, or `null` when the user does not exist. Call it
 * first inside the writer's transaction.
 *
 * @example
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   const methods = await lockLoginMethods(trx, userId, dialect !== 'sqlite')
 * })
 * ```
 */
export async function lockLoginMethods(
  trx: DynamicDb,
  userId: Id,
  lockRows: boolean,
): Promise<LockedLoginMethods | null> {
  let userQuery = trx.selectFrom('users').select('password_hash').where('id', '=', userId)
  if (lockRows) userQuery = userQuery.forUpdate()
  const user = await userQuery.executeTakeFirst()
  if (!user) return null
  // Locking reads here too: under MySQL's repeatable-read snapshot a plain read could miss a row another
  // writer of this user committed while this one waited for the lock.
  let linkQuery = trx.selectFrom('oauth_accounts').select('provider').where('user_id', '=', userId)
  if (lockRows) linkQuery = linkQuery.forUpdate()
  let passkeyQuery = trx.selectFrom('passkeys').select('id').where('user_id', '=', userId)
  if (lockRows) passkeyQuery = passkeyQuery.forUpdate()
  return {
    passwordHash: String(user.password_hash),
    providers: (await linkQuery.execute()).map((row) => String(row.provider)),
    passkeyIds: (await passkeyQuery.execute()).map((row) => String(row.id)),
  }
}
