/**
 * The session backend: an opaque 256-bit secret in an HttpOnly cookie, only its SHA-256 stored. A new
 * session at every login (no fixation), an idle and an absolute lifetime enforced server-side.
 *
 * @module
 */

import type { SessionRepository, UserRepository } from '../core/repositories.js'
import type { BaseUser } from '../core/user.js'
import type { Clock } from '../kernel/clock.js'
import type { ActiveCredential, AuthBackend, IssuedCredential, RequestCredentials } from './auth-backend.js'
import { isUsable } from './auth-backend.js'
import { generateSessionSecret, hashSessionSecret } from './session-secret.js'

/** Options of {@link SessionBackend}. */
export interface SessionBackendOptions<U extends BaseUser> {
  users: UserRepository<U>
  sessions: SessionRepository
  clock: Clock
  /** The cookie name. */
  cookieName: string
  /** Sessions end after this long without a request. Default: `3600` (NIST AAL2's 1 h). */
  idleTimeoutSeconds?: number
  /** Sessions end this long after login, whatever the activity. Default: `86400` (24 h). */
  absoluteTimeoutSeconds?: number
  /** Whether unverified users are refused. */
  requireVerified: boolean
}

// Activity is written at most this often, so a busy user costs one write a minute, not one per request.
const TOUCH_INTERVAL_MS = 60_000

/**
 * Sessions stored through a `SessionRepository`.
 *
 * @example
 * ```ts
 * const backend = new SessionBackend({ users, sessions, clock: systemClock, cookieName: '__Host-sid', requireVerified: true })
 * ```
 */
export class SessionBackend<U extends BaseUser = BaseUser> implements AuthBackend<U> {
  readonly name = 'session' as const
  readonly cookieName: string
  readonly idleTimeoutMs: number
  readonly absoluteTimeoutMs: number
  readonly #users: UserRepository<U>
  readonly #sessions: SessionRepository
  readonly #clock: Clock
  readonly #requireVerified: boolean

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
    this.cookieName = options.cookieName
    this.idleTimeoutMs = idle * 1000
    this.absoluteTimeoutMs = absolute * 1000
    this.#users = options.users
    this.#sessions = options.sessions
    this.#clock = options.clock
    this.#requireVerified = options.requireVerified
  }

  async login(user: U, request: RequestCredentials): Promise<IssuedCredential> {
    // Rotation on authentication: a session the client already had (perhaps planted) ends here.
    const previous = hashSessionSecret(request.cookie)
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
    return { cookie: { name: this.cookieName, value: secret, maxAgeSeconds: this.absoluteTimeoutMs / 1000 } }
  }

  async authenticate(request: RequestCredentials): Promise<{ user: U; credential: ActiveCredential } | null> {
    const id = hashSessionSecret(request.cookie)
    if (!id) return null
    const session = await this.#sessions.find(id)
    if (!session) return null
    const now = this.#clock.now()
    if (now >= session.expiresAt || now >= session.lastSeenAt + this.idleTimeoutMs) {
      await this.#sessions.delete(id)
      return null
    }
    const user = await this.#users.findById(session.userId)
    if (!user || !isUsable(user, session.authVersion, this.#requireVerified)) return null
    if (now - session.lastSeenAt >= TOUCH_INTERVAL_MS) await this.#sessions.touch(id, now)
    return { user, credential: { id, expiresAt: session.expiresAt } }
  }

  async logout(credential: ActiveCredential): Promise<void> {
    await this.#sessions.delete(credential.id)
  }
}
