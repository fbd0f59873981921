/**
 * Sessions a user can see and end: the list of their signed-in devices, ending one, ending all but the
 * current one, and "log out everywhere". Credentials come from {@link SessionSource}s: the built-in one
 * reads the `SessionRepository`, the refresh-token families of the JWT backends are the second
 * (refresh-families.ts); another credential kind with server-side state adds its own source with
 * {@link SessionAdmin.addSource}.
 *
 * @module
 */

import { sha256 } from '../kernel/digest.js'
import { NotFoundError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { RefreshFamilySource, refreshFamilyHandle } from './refresh-families.js'
import type { RefreshTokenStore } from './refresh-tokens.js'
import type { SessionRecord, SessionRepository, TokenDenylist } from './repositories.js'
import type { BaseUser, Id } from './user.js'
import { describeUserAgent } from './user-agent.js'

export { describeUserAgent } from './user-agent.js'

/** What kind of credential a listed session is: a database session, or a refresh-token family. */
export type SessionKind = 'session' | 'refresh'

/**
 * One signed-in device, as `GET /users/me/sessions` shows it. Times are epoch milliseconds.
 *
 * A {@link SessionSource} of another kind returns items of exactly this shape: `id` is a public handle
 * (never the secret, nor the key it is stored under), stable for the life of the credential and unique
 * across sources; `current` is true for the credential the request came with.
 *
 * @example
 * ```ts
 * const item: SessionListItem = {
 *   id: 's_3q2-7wEj9fVb0Xc1hK4mPA', kind: 'session', current: true,
 *   createdAt: 1_764_000_000_000, lastSeenAt: 1_764_000_360_000, expiresAt: 1_764_086_400_000,
 *   ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) ... Firefox/133.0',
 *   device: { browser: 'Firefox', os: 'Linux' },
 * }
 * ```
 */
export interface SessionListItem {
  /** The public handle to end it with. */
  id: string
  kind: SessionKind
  /** Whether the request that asked was made with this credential. */
  current: boolean
  createdAt: number
  /** The last request seen, to within a minute (activity is written at most once a minute). */
  lastSeenAt: number
  /** When it ends anyway. */
  expiresAt: number
  /** The client's address at login, as the server saw it (behind a proxy: set Fastify's `trustProxy`). */
  ip: string | null
  /** The `User-Agent` at login, cut to 512 characters. */
  userAgent: string | null
  /** A summary of `userAgent` for people: browser and operating system, `null` when unrecognised. */
  device: { browser: string | null; os: string | null }
}

/**
 * A place credentials of one kind live, as the session list sees it. The built-in source reads the
 * `SessionRepository`; a refresh-token store implements this to list and end its families.
 *
 * @example
 * ```ts
 * service.sessions.addSource({
 *   kind: 'refresh',
 *   async list(userId, currentCredentialId) { return familiesOf(userId).map(toItem) },
 *   async end(userId, handle) { return endFamily(userId, handle) },
 *   async endOthers(userId, currentCredentialId) { return endFamiliesExcept(userId, currentCredentialId) },
 * })
 * ```
 */
export interface SessionSource {
  readonly kind: SessionKind
  /**
   * The user's live credentials of this kind; `currentCredentialId` is the request's credential: its
   * refresh-token family (`ActiveCredential.familyId`) when it has one, else its `ActiveCredential.id`.
   */
  list(userId: Id, currentCredentialId: string | null): Promise<SessionListItem[]>
  /** Ends the user's credential with this public handle; `false` when the user has none such. */
  end(userId: Id, handle: string): Promise<boolean>
  /** Ends every credential of the user but the current one; returns how many. */
  endOthers(userId: Id, currentCredentialId: string | null): Promise<number>
}

/**
 * The public handle of a stored session: a digest of its key (itself the digest of the secret), so the
 * list reveals neither the secret nor the key rows are stored under.
 *
 * @example
 * ```ts
 * sessionHandle('9f86d08...') // 's_' followed by 22 base64url characters
 * ```
 */
export function sessionHandle(storedId: string): string {
  const digest = sha256(`fastify-users session handle\0${storedId}`, 'base64url')
  return `s_${digest.slice(0, 22)}`
}

/**
 * The credential a request came with, as the session list takes it: a session's id (its `ActiveCredential`),
 * or an access token's, whose refresh-token family (`familyId`) is the session it belongs to. A plain
 * string is taken as the credential id.
 *
 * @example
 * ```ts
 * await service.sessions.list(user.id, credential) // an ActiveCredential: { id: jti, familyId } on the JWT backends
 * ```
 */
export type CurrentCredential = string | { id: string; familyId?: string | undefined } | null

/** The id a {@link SessionSource} compares with its own: the family of an access token, else the id. */
function currentIdOf(current: CurrentCredential | undefined): string | null {
  if (current === null || current === undefined) return null
  return typeof current === 'string' ? current : (current.familyId ?? current.id)
}

/**
 * The public handle of the session a request came with (the one it would end by `DELETE
 * /users/me/sessions/:id`), or `null` without one.
 *
 * @example
 * ```ts
 * if (currentSessionHandle(credential) === params.id) clearCookie()
 * ```
 */
export function currentSessionHandle(current: CurrentCredential | undefined): string | null {
  if (current === null || current === undefined) return null
  if (typeof current !== 'string' && current.familyId) return refreshFamilyHandle(current.familyId)
  return sessionHandle(typeof current === 'string' ? current : current.id)
}

/**
 * The stored sessions as a {@link SessionSource}.
 *
 * @example
 * ```ts
 * const source = new StoredSessionSource(sessionRepository, clock)
 * ```
 */
export class StoredSessionSource implements SessionSource {
  readonly kind = 'session'
  /**
   * Sessions unused this long are over (the backend refuses them), so they are not listed. Default: `null`
   * (only the absolute end counts); the Fastify plugin sets its `session.idleTimeoutSeconds`.
   */
  idleTimeoutMs: number | null = null
  readonly #sessions: SessionRepository
  readonly #now: () => number

  constructor(sessions: SessionRepository, now: () => number) {
    this.#sessions = sessions
    this.#now = now
  }

  async #live(userId: Id): Promise<SessionRecord[]> {
    const now = this.#now()
    const idle = this.idleTimeoutMs
    // A row past its end that the sweep has not removed yet is not a session any more: it is left out.
    return (await this.#sessions.listForUser(userId)).filter(
      (s) => s.expiresAt > now && (idle === null || s.lastSeenAt + idle > now),
    )
  }

  async list(userId: Id, currentCredentialId: string | null): Promise<SessionListItem[]> {
    return (await this.#live(userId)).map((s) => ({
      id: sessionHandle(s.id),
      kind: 'session',
      current: s.id === currentCredentialId,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt,
      ip: s.ip,
      userAgent: s.userAgent,
      device: describeUserAgent(s.userAgent),
    }))
  }

  async end(userId: Id, handle: string): Promise<boolean> {
    // Only the user's own sessions are looked at, so another user's handle is simply not found.
    const found = (await this.#sessions.listForUser(userId)).find((s) => sessionHandle(s.id) === handle)
    return found ? this.#sessions.delete(found.id) : false
  }

  async endOthers(userId: Id, currentCredentialId: string | null): Promise<number> {
    let ended = 0
    for (const s of await this.#sessions.listForUser(userId)) {
      if (s.id !== currentCredentialId && (await this.#sessions.delete(s.id))) ended++
    }
    return ended
  }
}

/** Options of {@link SessionAdmin}: the service's resolved options fit. */
export interface SessionAdminOptions {
  /** The stored sessions; none without the session strategy. */
  sessionRepository?: SessionRepository | undefined
  /** With `tokenDenylist` and `userRepository`: the refresh-token families join the list. */
  refreshTokenStore?: RefreshTokenStore | undefined
  tokenDenylist?: TokenDenylist | undefined
  userRepository?: { findById(id: Id): Promise<BaseUser | null> } | undefined
  now: () => number
  logger: Logger
}

/**
 * Lists and ends a user's sessions across every {@link SessionSource}. `BaseUserService.sessions` is one;
 * "log out everywhere" is `BaseUserService.revokeCredentials`, which moves the credential version and so
 * ends every credential of every kind, the current one and JWTs included.
 *
 * @example
 * ```ts
 * const list = await service.sessions.list(user.id, credential) // the request's ActiveCredential
 * await service.sessions.end(user.id, list[1].id)
 * await service.sessions.endOthers(user.id, credential)
 * ```
 */
export class SessionAdmin {
  readonly #sources: SessionSource[] = []
  readonly #stored: StoredSessionSource | null
  readonly #logger: Logger

  constructor(options: SessionAdminOptions) {
    this.#logger = options.logger
    const stored = options.sessionRepository
    this.#stored = stored ? new StoredSessionSource(stored, options.now) : null
    if (this.#stored) this.#sources.push(this.#stored)
    const { refreshTokenStore, tokenDenylist, userRepository } = options
    if (refreshTokenStore && tokenDenylist && userRepository) {
      this.#sources.push(
        new RefreshFamilySource({
          store: refreshTokenStore,
          users: userRepository,
          denylist: tokenDenylist,
          now: options.now,
        }),
      )
    }
  }

  /**
   * Leaves stored sessions idle for this long out of the list, as the session backend refuses them. The
   * Fastify plugin calls it with `session.idleTimeoutSeconds`; an application with its own backend calls it
   * with its timeout.
   *
   * @example
   * ```ts
   * service.sessions.setIdleTimeout(3600)
   * ```
   */
  setIdleTimeout(seconds: number): void {
    if (this.#stored) this.#stored.idleTimeoutMs = seconds * 1000
  }

  /**
   * Adds a source of another credential kind; its items join the list. A source of a kind already held
   * replaces it: the Fastify plugin puts in its refresh-token families on the deny-list its JWT backends
   * check, in place of the service's own.
   */
  addSource(source: SessionSource): void {
    const held = this.#sources.findIndex((s) => s.kind === source.kind)
    if (held === -1) this.#sources.push(source)
    else this.#sources[held] = source
  }

  /**
   * The user's live sessions of every kind, the most recently used first. Without a source (JWT backends
   * only, no refresh tokens) the list is empty: a JWT access token has no server-side state to list.
   */
  async list(userId: Id, current: CurrentCredential = null): Promise<SessionListItem[]> {
    const currentId = currentIdOf(current)
    const lists = await Promise.all(this.#sources.map((s) => s.list(userId, currentId)))
    return lists.flat().sort((a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt)
  }

  /**
   * Ends one of the user's sessions by its public handle. Throws {@link NotFoundError} (`'session'`) when
   * the user has no such session, whether it never existed, ended, or belongs to someone else.
   */
  async end(userId: Id, handle: string, actorId: Id | null = null): Promise<void> {
    for (const source of this.#sources) {
      if (await source.end(userId, handle)) {
        this.#logger.info(
          { event: 'authn_session_ended', userId, kind: source.kind, actorId, scope: 'one' },
          'session ended',
        )
        return
      }
    }
    throw new NotFoundError('session')
  }

  /** Ends every session of the user but the current one ("log out everywhere else"); returns how many. */
  async endOthers(userId: Id, current: CurrentCredential, actorId: Id | null = null): Promise<number> {
    const currentId = currentIdOf(current)
    let ended = 0
    for (const source of this.#sources) ended += await source.endOthers(userId, currentId)
    this.#logger.info(
      { event: 'authn_session_ended', userId, actorId, scope: 'others', count: ended },
      'other sessions ended',
    )
    return ended
  }
}
