/**
 * The rule that keeps an application administrable: the last active holder of an admin role cannot be
 * deleted, deactivated or lose the role, and no admin can take their own administration away. Every
 * change that could remove an admin runs its check and its write inside one {@link ExclusiveLock}, so two
 * admins removing each other at the same moment cannot both pass the count.
 *
 * @module
 */
import { LastAdminError, SelfLockoutError } from '../kernel/errors.js'
import { canonicalRoleName, foldIdentifier } from './identifiers.js'
import type { UserRepository } from './repositories.js'
import type { BaseUser, Id } from './user.js'

/**
 * A mutual exclusion shared by every instance of the application (the SQL implementation holds a
 * database lock; the in-process one only serialises one process).
 *
 * @example
 * ```ts
 * await lock.runExclusive(async () => { const n = await count(); if (n > 1) await remove() })
 * ```
 */
export interface ExclusiveLock {
  /** Runs `fn` while no other `runExclusive` of the same lock runs, anywhere; releases it whatever happens. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T>
}

/**
 * An {@link ExclusiveLock} for one process: a promise chain. The default when no shared lock is given.
 *
 * @example
 * ```ts
 * const lock = new InProcessLock()
 * await Promise.all([lock.runExclusive(a), lock.runExclusive(b)]) // a, then b
 * ```
 */
export class InProcessLock implements ExclusiveLock {
  #tail: Promise<unknown> = Promise.resolve()

  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn)
    this.#tail = run.catch(() => {})
    return run
  }
}

/**
 * Who asks for an administrative change, and whether the last-admin rule may be overridden.
 *
 * @example
 * ```ts
 * await service.deleteUser(id, { actorId: request.user.id }) // SelfLockoutError when id is the caller's
 * await service.deleteUser(id, { force: true })              // the CLI's --force: may remove the last admin
 * ```
 */
export interface AdminActionOptions {
  /** The user making the change (the HTTP routes pass `request.user.id`); self-lockout is refused. */
  actorId?: Id | null
  /**
   * Allow removing the last active admin. For the operator's CLI (`--force`) only. Default: `false`.
   * Self-lockout is refused even with it.
   */
  force?: boolean
}

/** A change that may remove administration from users. */
export type AdminChange =
  /** A user loses every role (deletion, deactivation) or the roles named. */
  | { kind: 'user'; userId: Id; loses: 'everything' | readonly string[] }
  /** A role stops being what it was for every holder (deletion, or a rename). */
  | { kind: 'role'; roleName: string }

/** Options of {@link AdminGuard}. */
export interface AdminGuardOptions<U extends BaseUser> {
  users: UserRepository<U>
  /** Names of the roles that make an administrator. Default: `['admin']`. */
  adminRoles?: readonly string[]
  /** Default: an {@link InProcessLock}. */
  lock?: ExclusiveLock
}

const sameId = (a: Id | null | undefined, b: Id): boolean =>
  a !== null && a !== undefined && String(a) === String(b)

/**
 * Checks and applies changes that could leave the application without an administrator.
 *
 * @example
 * ```ts
 * const guard = new AdminGuard({ users, adminRoles: ['admin'], lock })
 * await guard.run({ kind: 'user', userId, loses: 'everything' }, { actorId }, () => users.delete(userId))
 * ```
 */
export class AdminGuard<U extends BaseUser = BaseUser> {
  /** The names of the admin roles, lower-cased. */
  readonly adminRoles: readonly string[]
  readonly #users: UserRepository<U>
  readonly #lock: ExclusiveLock

  constructor(options: AdminGuardOptions<U>) {
    const roles = options.adminRoles ?? ['admin']
    const message = "fastify-users: `adminRoles` must be a non-empty list of role names, e.g. ['admin']"
    if (!Array.isArray(roles) || roles.length === 0) throw new TypeError(message)
    try {
      this.adminRoles = roles.map((r) => canonicalRoleName(r, 'adminRoles'))
    } catch {
      throw new TypeError(message)
    }
    this.#users = options.users
    this.#lock = options.lock ?? new InProcessLock()
  }

  /** Whether a role name is an admin role. */
  isAdminRole(name: string): boolean {
    return this.adminRoles.includes(foldIdentifier(name))
  }

  /**
   * Runs `act` when `change` keeps at least one active admin and does not strip the actor of their own
   * administration; the check and `act` run under the lock.
   *
   * @throws SelfLockoutError when the actor would lose their own admin rights (even with `force`).
   * @throws LastAdminError when no active admin would remain (unless `force`).
   */
  async run<T>(change: AdminChange, options: AdminActionOptions, act: () => Promise<T>): Promise<T> {
    if (change.kind === 'role' && !this.isAdminRole(change.roleName)) return act()
    return this.#lock.runExclusive(async () => {
      await this.#check(change, options)
      return act()
    })
  }

  async #check(change: AdminChange, options: AdminActionOptions): Promise<void> {
    if (change.kind === 'user') {
      const target = await this.#users.findById(change.userId)
      if (!target || !this.#isAdmin(target)) return
      if (this.#isAdmin(target, change.loses)) return
      if (sameId(options.actorId, target.id)) throw new SelfLockoutError()
      if (!options.force && !(await this.#otherAdminExists({ userId: target.id }))) throw new LastAdminError()
      return
    }
    const role = foldIdentifier(change.roleName)
    if (options.actorId !== null && options.actorId !== undefined) {
      const actor = await this.#users.findById(options.actorId)
      if (actor && this.#isAdmin(actor) && !this.#isAdmin(actor, [role])) {
        throw new SelfLockoutError('you cannot delete or rename the admin role you hold')
      }
    }
    if (options.force) return
    // Nobody active holds this role: removing it takes administration from no one.
    const holders = await this.#users.list({ filters: { role, isActive: true }, limit: 1 })
    if (holders.items.length === 0) return
    if (!(await this.#otherAdminExists({ role }))) throw new LastAdminError()
  }

  /** Whether a user is an active admin, after losing `loses` (nothing by default). */
  #isAdmin(user: U, loses: 'everything' | readonly string[] = []): boolean {
    if (!user.isActive || loses === 'everything') return false
    const lost = loses.map(foldIdentifier)
    return user.roles.some((r) => this.isAdminRole(r.name) && !lost.includes(foldIdentifier(r.name)))
  }

  /** Whether an active user other than `userId` holds an admin role other than `role`. */
  async #otherAdminExists(exclude: { userId?: Id; role?: string }): Promise<boolean> {
    for (const role of this.adminRoles) {
      if (role === exclude.role) continue
      const page = await this.#users.list({ filters: { role, isActive: true }, limit: 2 })
      if (page.items.some((u) => !sameId(exclude.userId, u.id))) return true
    }
    return false
  }
}
