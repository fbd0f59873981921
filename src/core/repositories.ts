/**
 * The persistence ports: the narrow interfaces the core calls, and nothing more. The Kysely package
 * implements them for SQLite, PostgreSQL and MySQL/MariaDB; one contract suite runs against each.
 *
 * Contract shared by every method: expected absences return `null` (or `false`), faults throw. A unique
 * collision throws {@link ConflictError} with the colliding field, decided by the database's unique index
 * so that concurrent writers cannot both win.
 *
 * @module
 */
import type { BaseUser, Id, IdType, Role, UserFieldSchema } from './user.js'

/** The columns written when a user is created, in camelCase. Custom fields ride along as extra keys. */
export interface NewUserRecord {
  id?: Id
  email: string
  username?: string | null
  passwordHash: string
  isActive: boolean
  isVerified: boolean
  [customField: string]: unknown
}

/** A partial update of the stored columns; `incrementAuthVersion` bumps the credential version atomically. */
export interface UserRecordPatch {
  email?: string
  username?: string | null
  passwordHash?: string
  isActive?: boolean
  isVerified?: boolean
  /** The address a user asked to move to, or `null` to drop the request. */
  pendingEmail?: string | null
  incrementAuthVersion?: boolean
  [customField: string]: unknown
}

/**
 * The state a compare-and-set update expects to find (camelCase columns): the update applies only when the
 * stored row still holds every given value, decided by the database in the same statement or under a row
 * lock, so that of N concurrent writers expecting the same state exactly one wins.
 */
export interface UserExpectation {
  passwordHash?: string
  authVersion?: number
  email?: string
  isActive?: boolean
  isVerified?: boolean
  /** The address a user asked to move to; `null` expects no pending change. */
  pendingEmail?: string | null
}

/** Options of {@link UserRepository.update}. */
export interface UserUpdateOptions {
  /** Apply the patch only if the row still holds these values; otherwise `update` returns `null`. */
  expect?: UserExpectation
}

/** The sortable columns of `listAndCountUsers`. */
export type UserOrderField = 'createdAt' | 'updatedAt' | 'email' | 'id'

/** A query of the user list. */
export interface UserListQuery {
  filters?: {
    /** Case-insensitive substring of the email. */
    email?: string
    isActive?: boolean
    isVerified?: boolean
    /** Name of a role the user must have. */
    role?: string
    /** Exact matches on other columns (custom fields included), in camelCase. */
    [field: string]: unknown
  }
  orderBy?: { field: UserOrderField; direction: 'asc' | 'desc' }
  limit: number
  /** Skip this many rows. Ignored when `cursor` is given. */
  offset?: number
  /** The `nextCursor` of a previous page (keyset pagination: stable under concurrent inserts). */
  cursor?: string
}

/** One page of users. */
export interface UserPage<U> {
  items: U[]
  total: number
  /** Pass as `cursor` to get the next page; `null` on the last page. */
  nextCursor: string | null
}

/** Where users live. */
export interface UserRepository<U extends BaseUser = BaseUser> {
  /** How this repository makes ids. */
  readonly idType: IdType
  /** The application's custom columns (camelCase name to schema), declared once where the repository is made. */
  readonly userFields: Readonly<Record<string, UserFieldSchema>>
  /** Inserts a user and returns it with its roles (none). Throws `ConflictError` on a unique collision. */
  insert(record: NewUserRecord): Promise<U>
  /** The user with this id, or `null`. */
  findById(id: Id): Promise<U | null>
  /** The first user whose columns equal every given value (camelCase keys), or `null`. */
  findOne(filters: Record<string, unknown>): Promise<U | null>
  /** One page of users and the total count of the filtered set. */
  list(query: UserListQuery): Promise<UserPage<U>>
  /**
   * Applies the patch and returns the user as this very update left it (never as a concurrent writer
   * left it since), or `null` when absent or when `options.expect` no longer holds (compare-and-set).
   * Throws `ConflictError`.
   */
  update(id: Id, patch: UserRecordPatch, options?: UserUpdateOptions): Promise<U | null>
  /**
   * Deletes the user with its role links and sessions and returns what was deleted, or `null` when
   * absent. Of concurrent deletes of one user exactly one gets the user; the others get `null`.
   */
  delete(id: Id): Promise<U | null>
}

/** Where roles and the user-role links live. */
export interface RoleRepository<R extends Role = Role> {
  /** Inserts a role. Throws `ConflictError` (field `name`) when the name is taken. */
  insert(record: { name: string; description?: string | null }): Promise<R>
  findById(id: Id): Promise<R | null>
  /** Looks up by the normalised (lower-cased) name. */
  findByName(name: string): Promise<R | null>
  /** Every role, by name. */
  list(): Promise<R[]>
  /** Applies the patch, or returns `null` when absent. Throws `ConflictError` on a name collision. */
  update(id: Id, patch: { name?: string; description?: string | null }): Promise<R | null>
  /** Deletes the role and its links to users; returns the deleted role, or `null`. */
  delete(id: Id): Promise<R | null>
  /** Links a role to a user; `false` when the link already existed. */
  assign(userId: Id, roleId: Id): Promise<boolean>
  /** Unlinks a role from a user; `false` when there was no link. */
  revoke(userId: Id, roleId: Id): Promise<boolean>
}

/** A stored session. The id is the SHA-256 of the secret the client holds, never the secret itself. */
export interface SessionRecord {
  /** Hex SHA-256 of the session secret. */
  id: string
  userId: Id
  /** The user's `authVersion` when the session was created; a moved version ends the session. */
  authVersion: number
  createdAt: number
  lastSeenAt: number
  /** Absolute end, in epoch milliseconds. */
  expiresAt: number
  ip: string | null
  userAgent: string | null
}

/** Where sessions live (SQL by default; Redis when several instances share state). */
export interface SessionRepository {
  create(record: SessionRecord): Promise<void>
  /** The session with this hashed id, or `null`. */
  find(id: string): Promise<SessionRecord | null>
  /** Records activity, for the idle timeout. */
  touch(id: string, lastSeenAt: number): Promise<void>
  /** `false` when there was no such session. */
  delete(id: string): Promise<boolean>
  /** Ends every session of a user; returns how many. */
  deleteForUser(userId: Id): Promise<number>
  /** Every stored session of a user (expired ones not yet swept may be among them), in any order. */
  listForUser(userId: Id): Promise<SessionRecord[]>
  /** Removes sessions whose absolute end is before `now`; returns how many. */
  deleteExpired(now: number): Promise<number>
}

/** The deny-list of access tokens ended before their expiry (logout on the JWT backends). */
export interface TokenDenylist {
  /**
   * Denies the token id until `expiresAt` (epoch ms), after which the token is expired anyway. Ids are at
   * most 64 characters: a token's `jti`, or `family:<uuid>` for every access token of a refresh-token
   * family. `userId`, when given, names the user whose tokens the entry ends: a store ignores it, and an
   * authentication cache in front drops that user's cached tokens.
   */
  add(jti: string, expiresAt: number, userId?: string): Promise<void>
  has(jti: string): Promise<boolean>
  /** Forgets entries whose tokens have expired; returns how many. */
  deleteExpired(now: number): Promise<number>
}

/** The state of one login identifier's consecutive failures, as {@link LoginAttemptStore.failures} reads it. */
export interface LoginFailures {
  /** Consecutive failures since the last success (or since the window last expired). */
  count: number
  /** When the last one happened, in epoch milliseconds. */
  lastFailureAt: number
}

/**
 * Where consecutive failed password checks are counted, for login throttling (docs/security.md, "Login throttling").
 *
 * The key is never a user id: it is the hex SHA-256 of the canonical login identifier the client typed
 * (`loginAttemptKey`), so an unknown identifier is counted exactly like a known one (no enumeration) and
 * no address is stored in clear. Times are epoch milliseconds from the service's clock.
 *
 * @example
 * ```ts
 * const store = createKyselyRepositories(db).loginAttemptStore
 * const key = loginAttemptKey('ada@example.com')
 * await store.recordFailure(key, Date.now(), 15 * 60_000) // 1
 * await store.failures(key, Date.now(), 15 * 60_000) // { count: 1, lastFailureAt: ... }
 * await store.clear(key)
 * ```
 */
export interface LoginAttemptStore {
  /**
   * Atomically counts one more failure for `key` and returns the new count: N concurrent calls count
   * exactly N (docs/security.md, "Login throttling"). When the last failure is older than `windowMs` (or there is none),
   * the count starts again from 0, so this failure makes it 1. `lastFailureAt` becomes `now`.
   */
  recordFailure(key: string, now: number, windowMs: number): Promise<number>
  /**
   * Takes back one count of `key` (never below 0; nothing when there is no entry): an attempt counted up
   * front that did not go on to a password check gives its count back, so that attempts in flight are
   * not taken for failures.
   */
  release(key: string): Promise<void>
  /** Forgets every failure of `key` (after a success, or a completed password reset). */
  clear(key: string): Promise<void>
  /** The live failures of `key`, or `null` when there are none or the last one is older than `windowMs`. */
  failures(key: string, now: number, windowMs: number): Promise<LoginFailures | null>
  /** Deletes the entries whose last failure is before `before` (epoch ms); returns how many. */
  deleteExpired(before: number): Promise<number>
  /**
   * Optional, for fewer round trips: `recordFailure(pendingKey, now, inFlightWindowMs)` then
   * `failures(key, now, windowMs)` in one call, answering both. The read must see every write that was
   * done before the count of `pendingKey` was taken (as the two calls in sequence do): the throttle counts
   * an attempt in flight before it reads the failures, so that an attempt ending meanwhile is seen either
   * in flight or as a failure. When it throws, nothing is counted. Without it the throttle makes the two calls.
   */
  reserve?(
    pendingKey: string,
    key: string,
    now: number,
    inFlightWindowMs: number,
    windowMs: number,
  ): Promise<LoginReservation>
}

/** What {@link LoginAttemptStore.reserve} answers. */
export interface LoginReservation {
  /** The new count of the pending key, as `recordFailure` returns it. */
  inFlight: number
  /** The live failures of the key, as `failures` returns them. */
  failures: LoginFailures | null
}
