/**
 * The sweep of expired rows: everything it deletes is ignored anyway once expired, so it only keeps the
 * tables small. The Fastify plugin schedules it; the rule of what is dead lives here.
 *
 * @module
 */
import type { ServiceContext } from './service-context.js'
import type { BaseUser, Role } from './user.js'

/**
 * What `purgeExpired()` removed, per store; `0` for a store the service was not given.
 *
 * @example
 * ```ts
 * const { sessions } = await service.purgeExpired()
 * ```
 */
export interface PurgeResult {
  /** Sessions past their absolute end. */
  sessions: number
  /** Deny-list entries of access tokens that have expired anyway. */
  deniedTokens: number
  /** Mail-cap counters whose window has passed. */
  mailCounts: number
  /** Login-failure counts whose window and any delay they imposed have run out. */
  loginFailures: number
  /** Refresh tokens whose family has ended. */
  refreshTokens: number
}

/**
 * Deletes the expired rows of every store the service holds; see `BaseUserService.purgeExpired`.
 *
 * @example
 * ```ts
 * await purgeExpired(context)
 * ```
 */
export async function purgeExpired(context: ServiceContext<BaseUser, Role, unknown>): Promise<PurgeResult> {
  const now = context.clock.now()
  const throttle = context.loginThrottle
  const [sessions, deniedTokens, mailCounts, loginFailures, refreshTokens] = await Promise.all([
    context.sessionRepository?.deleteExpired(now) ?? 0,
    context.tokenDenylist?.deleteExpired(now) ?? 0,
    context.mailCap?.deleteExpired() ?? 0,
    // A count is dead once its window has passed and any delay it imposed has run out.
    throttle
      ? throttle.store.deleteExpired(
          now - (throttle.settings.windowSeconds + throttle.settings.maxDelaySeconds) * 1000,
        )
      : 0,
    context.refreshTokenStore?.deleteExpired(now) ?? 0,
  ])
  return { sessions, deniedTokens, mailCounts, loginFailures, refreshTokens }
}
