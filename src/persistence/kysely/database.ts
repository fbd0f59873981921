/**
 * The tables fastify-users owns, as Kysely sees them. Timestamps are epoch milliseconds in `bigint`
 * columns: one representation on SQLite, PostgreSQL and MySQL, free of time zones, compared as integers.
 *
 * @module
 */
import type { ExpressionBuilder, Kysely } from 'kysely'

/** `users`: built-in columns; the application's custom columns are added by its own migrations. */
export interface UsersTable {
  id: string | number
  email: string
  username: string | null
  password_hash: string
  is_active: boolean | number
  is_verified: boolean | number
  auth_version: number
  created_at: number | string
  updated_at: number | string
  /** The address the user asked to move to, until they confirm it from that mailbox. */
  pending_email: string | null
}

/** `roles`. */
export interface RolesTable {
  id: string | number
  name: string
  description: string | null
}

/** `user_roles`: the links, primary key `(user_id, role_id)`, both cascading. */
export interface UserRolesTable {
  user_id: string | number
  role_id: string | number
}

/** `sessions`: keyed by the SHA-256 of the secret, never the secret. */
export interface SessionsTable {
  id: string
  user_id: string | number
  auth_version: number
  created_at: number | string
  last_seen_at: number | string
  expires_at: number | string
  ip: string | null
  user_agent: string | null
}

/** `revoked_tokens`: access tokens ended before their expiry. */
export interface RevokedTokensTable {
  jti: string
  expires_at: number | string
}

/**
 * `login_attempts`: consecutive failed password checks per login identifier, keyed by the hex SHA-256 of
 * the canonical identifier (never a user id, never the address).
 */
export interface LoginAttemptsTable {
  key: string
  failures: number
  last_failure_at: number | string
}

/** `mail_cap`: mails of one kind to one address in the current window, keyed by a hex SHA-256. */
export interface MailCapTable {
  key: string
  sent: number
  window_start: number | string
}

/** `refresh_tokens`: refresh tokens of the JWT backends, keyed by the SHA-256 of the token. */
export interface RefreshTokensTable {
  token_hash: string
  family_id: string
  user_id: string
  auth_version: number
  issued_at: number | string
  expires_at: number | string
  family_created_at: number | string
  family_expires_at: number | string
  used_at: number | string | null
  ip: string | null
  user_agent: string | null
}

/** `passkeys`: WebAuthn credentials, keyed by the hex SHA-256 of the credential id. */
export interface PasskeysTable {
  id: string
  user_id: string | number
  credential_id: string
  public_key: string
  counter: number | string
  /** Comma-separated. */
  transports: string
  name: string
  created_at: number | string
  last_used_at: number | string | null
}

/** `passkey_challenges`: single-use challenges, keyed by their hex SHA-256. */
export interface PasskeyChallengesTable {
  id: string
  purpose: string
  user_id: string | null
  expires_at: number | string
}

/** The schema of the built-in tables. */
export interface FastifyUsersDatabase {
  users: UsersTable
  roles: RolesTable
  user_roles: UserRolesTable
  sessions: SessionsTable
  revoked_tokens: RevokedTokensTable
  login_attempts: LoginAttemptsTable
  mail_cap: MailCapTable
  refresh_tokens: RefreshTokensTable
  passkeys: PasskeysTable
  passkey_challenges: PasskeyChallengesTable
}

/**
 * The query builder the repositories use internally. The user row carries the application's custom
 * columns, which are known only at run time, so the row shape is dynamic here; the repositories' public
 * methods are typed by the core's ports instead.
 */
// biome-ignore lint/suspicious/noExplicitAny: custom columns make the row shape dynamic (see above).
export type DynamicDb = Kysely<any>

/** The expression builder over the dynamic `users` row (see {@link DynamicDb}). */
// biome-ignore lint/suspicious/noExplicitAny: custom columns make the row shape dynamic (see DynamicDb).
export type DynamicUsersEb = ExpressionBuilder<any, 'users'>

export { BUILT_IN_USER_COLUMNS } from './row-mapping.js'
