/**
 * Refresh tokens of the JWT backends: an opaque 256-bit token, stored only as its SHA-256, bound to a
 * family (one login), a user and the user's credential version. Every use rotates it: the used token is
 * marked used and a new one of the same family is issued. Presenting a token that was already used ends
 * the whole family, is logged as the security event `refresh_token_reuse` and is mailed to the user: a
 * used token comes back only when it was copied, so the server cannot tell the thief from the owner and
 * ends both.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import type { Logger } from '../kernel/logger.js'
import type { UserRepository } from './repositories.js'
import type { BaseUser, Id } from './user.js'

/** One stored refresh token. Times are epoch milliseconds. */
export interface RefreshTokenRecord {
  /** Hex SHA-256 of the token; the token itself is never stored. */
  tokenHash: string
  /** The family: every token rotated from one login shares it. */
  familyId: string
  /** The user's id, as a string. */
  userId: string
  /** The user's credential version when the family began; a moved version ends the family. */
  authVersion: number
  /** When this token was issued. */
  issuedAt: number
  /** When this token stops working unused: its idle end, never after the family's end. */
  expiresAt: number
  /** When the family began (the login). */
  familyCreatedAt: number
  /** When the family ends, however often it is rotated. */
  familyExpiresAt: number
  /** When the token was rotated, or `null` while it is fresh. */
  usedAt: number | null
  /** The client address and user agent of the request that got this token. */
  ip: string | null
  userAgent: string | null
}

/**
 * Where refresh tokens are kept (`createKyselyRepositories(db).refreshTokenStore`).
 *
 * @example
 * ```ts
 * const won = await store.markUsed(hash, Date.now()) // true for exactly one of two concurrent calls
 * ```
 */
export interface RefreshTokenStore {
  /** Stores a new token. */
  insert(record: RefreshTokenRecord): Promise<void>
  /** The token with this hash, or `null`. */
  find(tokenHash: string): Promise<RefreshTokenRecord | null>
  /**
   * Marks a fresh token used, atomically: `true` for the one call that found it fresh, `false` when it
   * was already used or is gone (so of two concurrent rotations exactly one wins).
   */
  markUsed(tokenHash: string, at: number): Promise<boolean>
  /** Deletes every token of a family; returns how many. */
  deleteFamily(familyId: string): Promise<number>
  /** Every token of a user, any order. */
  listByUser(userId: string): Promise<RefreshTokenRecord[]>
  /** Deletes the tokens whose family ended at or before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>
}

/** Lifetimes of refresh tokens. */
export interface RefreshTokenOptions {
  /** How long an unused refresh token stays valid, in seconds. Default: `1209600` (14 days). */
  idleSeconds?: number
  /** How long a family (one login) lasts however often it is rotated, in seconds. Default: `2592000` (30 days). */
  absoluteSeconds?: number
}

/** A refresh token handed to a client. */
export interface IssuedRefreshToken {
  token: string
  familyId: string
  /** Seconds until the token expires unused. */
  expiresIn: number
}

/**
 * A refresh-token family as the session list shows it.
 *
 * @example
 * ```ts
 * const families = await refreshTokens.listFamilies(String(user.id), currentFamilyId)
 * ```
 */
export interface RefreshFamilyItem {
  id: string
  kind: 'refresh'
  createdAt: number
  lastSeenAt: number
  ip: string | null
  userAgent: string | null
  current: boolean
}

/** What {@link RefreshTokens} is built on. */
export interface RefreshTokensDependencies<U extends BaseUser> {
  store: RefreshTokenStore
  users: UserRepository<U>
  clock: Clock
  logger: Logger
  /** Parses a stored user id, or `null`. */
  parseId: (id: string) => Id | null
  /** Whether a user may still use credentials issued at `authVersion` (active, verified, same version). */
  isUsable: (user: U, authVersion: number) => boolean
  /** Tells the user that a used refresh token came back (the service's `sendRefreshTokenReuseNotice`). */
  notifyReuse: (user: U) => void
  options?: RefreshTokenOptions | undefined
}

const DEFAULT_IDLE_SECONDS = 14 * 24 * 3600
const DEFAULT_ABSOLUTE_SECONDS = 30 * 24 * 3600
/** 32 random bytes, base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/

/**
 * The hex SHA-256 under which a refresh token is stored. A plain hash suffices: the token carries 256
 * random bits, so nothing can be guessed from it, and a lookup by hash needs no per-row salt.
 *
 * @example
 * ```ts
 * await store.find(hashRefreshToken(token))
 * ```
 */
export function hashRefreshToken(token: string): string {
  return sha256(token, 'hex')
}

function positiveSeconds(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0) {
    throw new TypeError(`fastify-users: option \`${option}\` must be a positive integer of seconds`)
  }
  return value
}

/**
 * Issues, rotates and ends refresh tokens.
 *
 * @example
 * ```ts
 * const refresh = new RefreshTokens({ store, users, clock, logger, parseId, isUsable, notifyReuse })
 * const issued = await refresh.issue(user, { ip, userAgent })
 * const next = await refresh.rotate(issued.token, { ip, userAgent }) // null when refused
 * ```
 */
export class RefreshTokens<U extends BaseUser = BaseUser> {
  /** Resolved idle lifetime of a token, in seconds. */
  readonly idleSeconds: number
  /** Resolved lifetime of a family, in seconds. */
  readonly absoluteSeconds: number
  readonly #deps: RefreshTokensDependencies<U>

  constructor(deps: RefreshTokensDependencies<U>) {
    this.#deps = deps
    this.idleSeconds = positiveSeconds(
      deps.options?.idleSeconds,
      DEFAULT_IDLE_SECONDS,
      'refreshToken.idleSeconds',
    )
    this.absoluteSeconds = positiveSeconds(
      deps.options?.absoluteSeconds,
      DEFAULT_ABSOLUTE_SECONDS,
      'refreshToken.absoluteSeconds',
    )
    if (this.idleSeconds > this.absoluteSeconds) {
      throw new TypeError(
        'fastify-users: option `refreshToken.idleSeconds` must not exceed `refreshToken.absoluteSeconds`',
      )
    }
  }

  /** Starts a new family for a user who just logged in. */
  async issue(
    user: U,
    client: { ip?: string | undefined; userAgent?: string | undefined },
  ): Promise<IssuedRefreshToken> {
    const now = this.#deps.clock.now()
    return this.#insert({
      familyId: randomUUID(),
      userId: String(user.id),
      authVersion: user.authVersion,
      familyCreatedAt: now,
      familyExpiresAt: now + this.absoluteSeconds * 1000,
      now,
      client,
    })
  }

  /**
   * Rotates a refresh token: returns its user and the next token of its family, or `null` when the token
   * is unknown, expired, used (then the family is ended, logged and mailed) or its user can no longer use
   * it (inactive, or the credential version moved: then the family is deleted).
   */
  async rotate(
    token: unknown,
    client: { ip?: string | undefined; userAgent?: string | undefined },
  ): Promise<{ user: U; refresh: IssuedRefreshToken } | null> {
    if (typeof token !== 'string' || !TOKEN.test(token)) return null
    const { store, clock } = this.#deps
    const hash = hashRefreshToken(token)
    const record = await store.find(hash)
    if (!record) return null
    const now = clock.now()
    if (record.usedAt !== null) {
      await this.#reuse(record, client)
      return null
    }
    if (record.expiresAt <= now) return null
    const id = this.#deps.parseId(record.userId)
    const user = id === null ? null : await this.#deps.users.findById(id)
    if (!user || !this.#deps.isUsable(user, record.authVersion)) {
      await store.deleteFamily(record.familyId)
      return null
    }
    // The next token is written before the used one is marked, so that a concurrent loser, which can only
    // fail its compare-and-set after ours succeeded, ends a family that already holds the new row: its
    // delete cannot miss it. (Inserting after the mark leaves a window where a delete racing the insert
    // spares the new token, and a thief's racing request would then keep the family alive.)
    const refresh = await this.#insert({ ...record, now, client })
    // One winner: of two concurrent rotations of one fresh token, the loser finds it used. It is treated
    // as a reuse (no grace window): a thief racing the owner looks exactly like a double submit.
    if (!(await store.markUsed(hash, now))) {
      await this.#reuse(record, client)
      return null
    }
    return { user, refresh }
  }

  /** Ends a family, whoever owns it (logout of the access token that carries its id). */
  async end(familyId: string): Promise<void> {
    await this.#deps.store.deleteFamily(familyId)
  }

  /** Ends a family of `userId`: `false` when the user has no such family. */
  async endFamily(userId: string, familyId: string): Promise<boolean> {
    const owned = (await this.#deps.store.listByUser(userId)).some((r) => r.familyId === familyId)
    if (!owned) return false
    return (await this.#deps.store.deleteFamily(familyId)) > 0
  }

  /**
   * The live families of a user (those with a fresh, unexpired token), most recently used first;
   * `currentFamilyId` marks the caller's own. Address and user agent are those of the newest token.
   */
  async listFamilies(userId: string, currentFamilyId?: string): Promise<RefreshFamilyItem[]> {
    const now = this.#deps.clock.now()
    const records = await this.#deps.store.listByUser(userId)
    const live = new Set(records.filter((r) => r.usedAt === null && r.expiresAt > now).map((r) => r.familyId))
    const families = new Map<string, RefreshFamilyItem>()
    for (const r of records) {
      if (!live.has(r.familyId)) continue
      const known = families.get(r.familyId)
      if (known && known.lastSeenAt >= r.issuedAt) continue
      families.set(r.familyId, {
        id: r.familyId,
        kind: 'refresh',
        createdAt: r.familyCreatedAt,
        lastSeenAt: r.issuedAt,
        ip: r.ip,
        userAgent: r.userAgent,
        current: r.familyId === currentFamilyId,
      })
    }
    return [...families.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt)
  }

  async #reuse(record: RefreshTokenRecord, client: { ip?: string | undefined }): Promise<void> {
    const { store, logger } = this.#deps
    await store.deleteFamily(record.familyId)
    logger.warn(
      {
        event: 'refresh_token_reuse',
        userId: record.userId,
        familyId: record.familyId,
        ip: client.ip ?? null,
      },
      'a used refresh token was presented: its family is ended',
    )
    const id = this.#deps.parseId(record.userId)
    const user = id === null ? null : await this.#deps.users.findById(id)
    if (user) this.#deps.notifyReuse(user)
  }

  async #insert(input: {
    familyId: string
    userId: string
    authVersion: number
    familyCreatedAt: number
    familyExpiresAt: number
    now: number
    client: { ip?: string | undefined; userAgent?: string | undefined }
  }): Promise<IssuedRefreshToken> {
    const token = randomBytes(32).toString('base64url')
    const expiresAt = Math.min(input.now + this.idleSeconds * 1000, input.familyExpiresAt)
    await this.#deps.store.insert({
      tokenHash: hashRefreshToken(token),
      familyId: input.familyId,
      userId: input.userId,
      authVersion: input.authVersion,
      issuedAt: input.now,
      expiresAt,
      familyCreatedAt: input.familyCreatedAt,
      familyExpiresAt: input.familyExpiresAt,
      usedAt: null,
      // Bounded, so a hostile header cannot bloat the table.
      ip: input.client.ip?.slice(0, 100) ?? null,
      userAgent: input.client.userAgent?.slice(0, 255) ?? null,
    })
    return {
      token,
      familyId: input.familyId,
      expiresIn: Math.max(1, Math.floor((expiresAt - input.now) / 1000)),
    }
  }
}
