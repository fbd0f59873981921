/**
 * Builds the plugin's `TwoFactor` when `routes.twoFactor` is on: over the plugin's database (its TOTP and
 * step-up tables, under the configured table names) and the plugin's service.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import { PasskeySecondFactor } from '../core/passkey-second-factor.js'
import type { Passkeys } from '../core/passkeys.js'
import { TwoFactor } from '../core/two-factor.js'
import type { BaseUser, IdType } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'
import { createKyselyRepositories } from '../persistence/kysely/index.js'
import type { FlatOptions } from './normalize-options.js'
import type { RouteGroupConfig } from './options.js'

/**
 * Two-factor authentication (TOTP, recovery codes, and a passkey when `passkeys` is on) and step-up: the
 * routes under `/users/me/2fa`, `POST /users/me/reauthenticate` and each backend's second login step
 * (`POST /login/2fa`, `POST /auth/<name>/login/2fa`). Off by default: give `routes: { twoFactor: {} }` to
 * turn it on.
 *
 * @example
 * ```ts
 * await app.register(fastifyUsers, { secret, database, routes: { twoFactor: { issuer: 'Acme', stepUpMinutes: 5 } } })
 * ```
 */
export interface TwoFactorHandlerConfig extends RouteGroupConfig {
  /** The issuer authenticator apps show. Default: `mail.appName`, else `'fastify-users'`. */
  issuer?: string
  /** How long a login or reauthentication allows sensitive actions, in minutes. Default: `10`. */
  stepUpMinutes?: number
  /** How long the login's second step may take, in seconds. Default: `300`. */
  challengeSeconds?: number
  /**
   * With `passkeys` on, whether a registered passkey is a second factor: a user with one is then asked
   * for a second step after the password, and may answer it with the passkey (or TOTP, when on).
   * Default: `true`.
   */
  passkeyAsSecondFactor?: boolean
}

/**
 * The two-factor collaborator of the plugin, or `null` when `routes.twoFactor` is off.
 *
 * @throws TypeError when it is on without a database or without `secret` (the key that encrypts the TOTP
 *   secrets is derived from it).
 *
 * @example
 * ```ts
 * const twoFactor = setUpTwoFactor(flat, db, 'uuid', service, passkeys) // null unless routes.twoFactor is given
 * ```
 */
export function setUpTwoFactor(
  options: FlatOptions,
  db: Kysely<unknown> | undefined,
  idType: IdType,
  // biome-ignore lint/suspicious/noExplicitAny: the plugin's service has the request as its request type.
  service: BaseUserService<BaseUser, any, any>,
  passkeys: Passkeys<BaseUser> | null = null,
): TwoFactor<BaseUser> | null {
  const config = options.routes?.twoFactor
  if (config === undefined || config === false) return null
  if (!db) {
    throw new TypeError(
      "fastify-users: option `routes.twoFactor` needs the plugin's `database` (for its tables)",
    )
  }
  if (options.secret === undefined) {
    throw new TypeError(
      'fastify-users: option `routes.twoFactor` needs `secret` (TOTP secrets are encrypted with a key derived from it)',
    )
  }
  const repos = createKyselyRepositories(db, { idType, tables: options.tables })
  return new TwoFactor<BaseUser>({
    service,
    secret: options.secret,
    totpRepository: repos.totpRepository,
    stepUpStore: repos.stepUpStore,
    issuer: config.issuer ?? options.appName ?? 'fastify-users',
    ...(config.stepUpMinutes === undefined ? {} : { stepUpMinutes: config.stepUpMinutes }),
    ...(config.challengeSeconds === undefined ? {} : { challengeSeconds: config.challengeSeconds }),
    factors:
      passkeys && config.passkeyAsSecondFactor !== false ? [new PasskeySecondFactor(passkeys, service)] : [],
  })
}
