/**
 * The periodic sweep of expired rows. Expired sessions, deny-list entries, login-failure counts, mail
 * counts, refresh tokens, step-up proofs and passkey challenges are ignored anyway; the sweep only keeps
 * the tables small. It runs a list of purgeable collaborators, built in one place ({@link sweepTargets}),
 * so a store with expiring rows is swept by being in that list.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { TokenDenylist } from '../core/repositories.js'
import type { BaseUser, Role } from '../core/user.js'
import type { BaseUserService } from '../core/user-service.js'

const SWEEP_INTERVAL_MS = 10 * 60 * 1000

/**
 * Anything the sweep empties of what has expired: the service (its sessions, deny-list, counters and
 * refresh tokens), the step-up proofs, the passkey challenges, a deny-list of its own.
 *
 * @example
 * ```ts
 * const challenges: Purgeable = { purgeExpired: () => repository.deleteExpiredChallenges(Date.now()) }
 * ```
 */
export interface Purgeable {
  /** Deletes what has expired by the collaborator's own clock. */
  purgeExpired(): Promise<unknown>
}

/** The collaborators of the plugin beside the service that hold expiring rows; each is optional. */
export interface SweepCollaborators {
  /** The JWT backends' deny-list; swept here only when it is not the service's own. */
  tokenDenylist?: TokenDenylist | undefined
  /** The step-up proofs of the two-factor routes. */
  stepUp?: Purgeable | undefined
  /** The passkey challenges. */
  passkeys?: Purgeable | undefined
}

/**
 * Every collaborator the plugin's sweep purges: the service, then those of `extra` that are set.
 *
 * @example
 * ```ts
 * const targets = sweepTargets(service, { tokenDenylist, stepUp: twoFactor?.stepUp, passkeys })
 * await purgeAll(targets)
 * ```
 */
export function sweepTargets(
  service: BaseUserService<BaseUser, Role, unknown>,
  extra: SweepCollaborators,
): Purgeable[] {
  const targets: Purgeable[] = [service]
  const denylist = extra.tokenDenylist
  if (denylist && denylist !== service.tokenDenylist) {
    targets.push({ purgeExpired: () => denylist.deleteExpired(service.clock.now()) })
  }
  if (extra.stepUp) targets.push(extra.stepUp)
  if (extra.passkeys) targets.push(extra.passkeys)
  return targets
}

/**
 * Purges every target, all of them even when one fails (a store that cannot be reached does not keep the
 * others from being swept).
 *
 * @throws AggregateError with the failures, after every target was tried.
 * @example
 * ```ts
 * await purgeAll(sweepTargets(app.users, {}))
 * ```
 */
export async function purgeAll(targets: readonly Purgeable[]): Promise<void> {
  const results = await Promise.allSettled(targets.map((target) => target.purgeExpired()))
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
  if (failures.length > 0) throw new AggregateError(failures, 'fastify-users: the sweep failed in part')
}

/**
 * Purges `targets` every ten minutes (a failure is logged, never thrown), and on close stops it and waits
 * for the service's background work.
 *
 * @example
 * ```ts
 * scheduleSweep(fastify, sweepTargets(service, { tokenDenylist }), () => service.settled())
 * ```
 */
export function scheduleSweep(
  fastify: FastifyInstance,
  targets: readonly Purgeable[],
  settled: () => Promise<unknown>,
): void {
  const timer = setInterval(() => {
    purgeAll(targets).catch((err) => fastify.log.warn({ err }, 'fastify-users: sweeping expired rows failed'))
  }, SWEEP_INTERVAL_MS)
  timer.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await settled()
  })
}
