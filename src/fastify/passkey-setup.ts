/**
 * Builds the plugin's passkey feature from its `passkeys` option, on the database's tables, or answers
 * `null` when the option is absent.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import { passkeyNotices } from '../core/passkey-defaults.js'
import type { PasskeyRepository } from '../core/passkey-repository.js'
import { type PasskeyStepUp, Passkeys } from '../core/passkeys.js'
import type { BaseUser, IdType, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import type { DynamicDb } from '../persistence/kysely/database.js'
import { KyselyPasskeyRepository } from '../persistence/kysely/kysely-passkey-repository.js'
import { type TableNames, withTableNames } from '../persistence/kysely/table-names.js'

/**
 * The plugin's `passkeys` option: log in with passkeys (WebAuthn) and manage them under `/users/me/passkeys`.
 *
 * @example
 * ```ts
 * await app.register(fastifyUsers, {
 *   secret, database: 'sqlite:data/app.db',
 *   passkeys: { rpId: 'example.com', rpName: 'Example', origins: ['https://example.com'] },
 * })
 * ```
 */
export interface PasskeysPluginOptions {
  /** The relying party id: the site's registrable domain (`example.com`), or `localhost`. Required. */
  rpId: string
  /** The name browsers show while creating a passkey. Required. */
  rpName: string
  /** Every exact origin a ceremony may come from (`https://example.com`). Required. */
  origins: readonly string[]
  /** How long a challenge stays usable, in seconds. Default: 300. */
  challengeLifetimeSeconds?: number
  /** Where passkeys are kept. Default: the `passkeys` tables of the plugin's database. */
  repository?: PasskeyRepository
}

/**
 * The passkey feature the plugin's routes use, or `null` when `passkeys` is not set.
 *
 * @throws TypeError naming the option when it is incomplete, or when there is neither a database nor a
 *   `passkeys.repository`.
 * @example
 * ```ts
 * const passkeys = setUpPasskeys(flat.passkeys, service, db, resolved, changes.passkeyStepUp(credentialIdOf))
 * ```
 */
export function setUpPasskeys(
  option: PasskeysPluginOptions | undefined,
  service: BaseUserService<BaseUser, Role, FastifyRequest>,
  db: unknown,
  resolved: { idType: IdType; tables: TableNames },
  stepUp: PasskeyStepUp<BaseUser>,
): Passkeys<BaseUser> | null {
  if (option === undefined) return null
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('fastify-users: option `passkeys` must be an object: { rpId, rpName, origins }')
  }
  const repository =
    option.repository ??
    (db
      ? new KyselyPasskeyRepository(withTableNames(db as DynamicDb, resolved.tables), {
          idType: resolved.idType,
        })
      : null)
  if (!repository) {
    throw new TypeError('fastify-users: option `passkeys` needs a `database` or a `passkeys.repository`')
  }
  return new Passkeys(service, {
    repository,
    rpId: option.rpId,
    rpName: option.rpName,
    origins: option.origins,
    challengeLifetimeSeconds: option.challengeLifetimeSeconds,
    stepUp,
    onChange: passkeyNotices(service),
  })
}
