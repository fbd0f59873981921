/**
 * The periodic sweep of expired rows. Expired sessions, deny-list entries and login-failure counts are
 * ignored anyway; the sweep only keeps the tables small.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { TokenDenylist } from '../core/repositories.js'
import type { BaseUser, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'

const SWEEP_INTERVAL_MS = 10 * 60 * 1000

/**
 * Deletes what has expired in the service's stores (`service.purgeExpired()`), and in the deny-list of the
 * JWT backends when it is not the service's own.
 *
 * @example
 * ```ts
 * await purgeExpired(app.users, tokenDenylist)
 * ```
 */
export async function purgeExpired(
  service: BaseUserService<BaseUser, Role, unknown>,
  tokenDenylist: TokenDenylist | undefined,
): Promise<void> {
  await Promise.all([
    service.purgeExpired(),
    tokenDenylist && tokenDenylist !== service.tokenDenylist
      ? tokenDenylist.deleteExpired(service.clock.now())
      : 0,
  ])
}

/**
 * Runs `sweep` every ten minutes (a failure is logged, never thrown), and on close stops it and waits for
 * the service's background work.
 *
 * @example
 * ```ts
 * scheduleSweep(fastify, () => purgeExpired(service, tokenDenylist), () => service.settled())
 * ```
 */
export function scheduleSweep(
  fastify: FastifyInstance,
  sweep: () => Promise<unknown>,
  settled: () => Promise<unknown>,
): void {
  const timer = setInterval(() => {
    sweep().catch((err) => fastify.log.warn({ err }, 'fastify-users: sweeping expired sessions failed'))
  }, SWEEP_INTERVAL_MS)
  timer.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await settled()
  })
}
