/**
 * The session backend: an opaque 256-bit secret in an HttpOnly cookie (or, with the `bearer` transport, in
 * the `Authorization` header), only its SHA-256 stored. A new session at every login (no fixation), an idle
 * and an absolute lifetime enforced server-side.
 *
 * @module
 */

import type { SessionRepository, UserRepository } from '../core/repositories.js'
import type { BaseUser } from '../core/user.js'
import type { Clock } from '../kernel/clock.js'
import type {
  ActiveCredential,
  AuthBackend,
  AuthTransport,
  IssuedCredential,
  RequestCredentials,
} from './auth-backend.js'
import { isUsable } from './auth-backend.js'
import type { AuthCache } from './auth-cache.js'
import { generateSessionSecret, hashSessionSecret } from './session-secret.js'

/** Options of {@link SessionBackend}. */
export interface SessionBackendOptions<U extends BaseUser> {
  users: UserRepository<U>
  sessions: SessionRepository
  clock: Clock
  /** Names the backend among several. Default: `'session'` on the cookie transport, `'session-bearer'` else. */
  name?: string
  /** Where the secret travels. Default: `'cookie'`. */
  transport?: AuthTransport
  /** The cookie name; required on the cookie transport, ignored on the bearer one. */
  cookieName?: string
  /** Sessions end after this long without a request. Default: `3600` (NIST AAL2's 1 h). */
  idleTimeoutSeconds?: number
  /** Sessions end this long after login, whatever the activity. Default: `86400` (24 h). */
  absoluteTimeoutSeconds?: number
  /** Whether unverified users are refused. */
  requireVerified: boolean
  /**
   * The authentication cache: a cached session is recognised without a database round trip. Only sound
   * when every revoking write goes through repositories wrapped by `withCacheInvalidation`. Default: none.
   */
  cache?: AuthCache
}

// Activity is written at most this often, so a busy user costs one write a minute, not one per request.
const TOUCH_INTERVAL_MS = 60_000
const BEARER = /^Bearer ([A-Za-z0-9_-]+)$/

/**
 * Sessions stored through a `SessionRepository`.
 *
 * @example
 * ```ts
 * const backend = new SessionBackend({ users, sessions, clock: systemClock, cookieName: '__Host-sid', requireVerified: true })
 * // The same sessions for an API client, as `Authorization: Bearer <secret>`:
 * const api = new SessionBackend({ users, sessions, clock: systemClock, transport: 'bearer', requireVerified: true })
 * ```
 */
export class SessionBackend<U extends BaseUser = BaseUser> implements AuthBackend<U> {
  readonly name: string
  readonly cookieName: string | null
  readonly idleTimeoutMs: number
  readonly absoluteTimeoutMs: number
  readonly #users: UserRepository<U>
  readonly #sessions: SessionRepository
  readonly #clock: Clock
  readonly #requireVerified: boolean
  readonly #cache: AuthCache | undefined

  constructor(options: SessionBackendOptions<U>) {
    const idle = options.idleTimeoutSeconds ?? 3600
    const absolute = options.absoluteTimeoutSeconds ?? 86_400
    if (!Number.isInteger(idle) || idle < 60)
      throw new TypeError('fastify-users: `session.idleTimeoutSeconds` must be at least 60')
    if (!Number.isInteger(absolute) || absolute < idle || absolute > 30 * 86_400) {
      throw new TypeError(
        'fastify-users: `session.absoluteTimeoutSeconds` must be between the idle timeout and 30 days',
      )
    }
    const transport = options.transport ?? 'cookie'
    if (transport !== 'cookie' && transport !== 'bearer')
      throw new TypeError("fastify-users: a session backend's transport must be 'cookie' or 'bearer'")
    if (transport === 'cookie' && !options.cookieName)
      throw new TypeError('fastify-users: the session backend needs a cookie name on the cookie transport')
    this.name = options.name ?? (transport === 'cookie' ? 'session' : 'session-bearer')
    this.cookieName = transport === 'cookie' ? (options.cookieName ?? null) : null
    this.idleTimeoutMs = idle * 1000
    this.absoluteTimeoutMs = absolute * 1000
    this.#users = options.users
    this.#sessions = options.sessions
    this.#clock = options.clock
    this.#requireVerified = options.requireVerified
    this.#cache = options.cache
  }

  async login(user: U, request: RequestCredentials): Promise<IssuedCredential> {
    // Rotation on authentication: a session the client already had (perhaps planted) ends here.
    const previous = hashSessionSecret(this.#secretOf(request))
    if (previous) await this.#sessions.delete(previous)
    const secret = generateSessionSecret()
    const now = this.#clock.now()
    await this.#sessions.create({
      id: hashSessionSecret(secret)!,
      userId: user.id,
      authVersion: user.authVersion,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.absoluteTimeoutMs,
      ip: request.ip?.slice(0, 64) ?? null,
      userAgent: request.userAgent?.slice(0, 512) ?? null,
    })
    const maxAgeSeconds = this.absoluteTimeoutMs / 1000
    if (this.cookieName) return { cookie: { name: this.cookieName, value: secret, maxAgeSeconds } }
    return { accessToken: secret, expiresIn: maxAgeSeconds }
  }

  // Each transport reads only its own place, so a cookie never stands in for a Bearer secret.
  #secretOf(request: RequestCredentials): string | undefined {
    return this.cookieName ? request.cookie : BEARER.exec(request.authorization ?? '')?.[1]
  }

  /** The cached answer, without waiting: see {@link AuthBackend.peek}. */
  peek(request: RequestCredentials): { user: U; credential: ActiveCredential } | null | undefined {
    const id = hashSessionSecret(this.#secretOf(request))
    if (!id) return null
    return this.#cache?.get(id, this.#clock.now()) as { user: U; credential: ActiveCredential } | undefined
  }

  async authenticate(request: RequestCredentials): Promise<{ user: U; credential: ActiveCredential } | null> {
    const id = hashSessionSecret(this.#secretOf(request))
    if (!id) return null
    const now = this.#clock.now()
    const cached = this.#cache?.get(id, now) as { user: U; credential: ActiveCredential } | undefined
    if (cached) return cached
    const ticket = this.#cache?.ticket() ?? 0
    const session = await this.#sessions.find(id)
    if (!session) return null
    if (now >= session.expiresAt || now >= session.lastSeenAt + this.idleTimeoutMs) {
      await this.#sessions.delete(id)
      return null
    }
    const user = await this.#users.findById(session.userId)
    if (!user || !isUsable(user, session.authVersion, this.#requireVerified)) return null
    let lastSeenAt = session.lastSeenAt
    if (now - lastSeenAt >= TOUCH_INTERVAL_MS) {
      await this.#sessions.touch(id, now)
      lastSeenAt = now
    }
    const result = { user, credential: { id, expiresAt: session.expiresAt } }
    // Cached no longer than the session lives, nor past its idle end, nor past its next activity write.
    const until = Math.min(session.expiresAt, lastSeenAt + this.idleTimeoutMs, lastSeenAt + TOUCH_INTERVAL_MS)
    this.#cache?.set(id, String(user.id), result, until, now, ticket)
    return result
  }

  async logout(credential: ActiveCredential): Promise<void> {
    await this.#sessions.delete(credential.id)
  }
}
