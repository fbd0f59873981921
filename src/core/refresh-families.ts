/**
 * Refresh-token families in the session list: on the JWT backends one login is one family (every refresh
 * token rotated from it), and the list shows each live family as one item of kind `'refresh'`. Ending a
 * family deletes its refresh tokens and denies its access tokens at once: every access token of a family
 * carries the family's id (claim `fam`), and the JWT backend refuses a token whose family is on the
 * deny-list under {@link refreshFamilyDenyKey}.
 *
 * @module
 */

import { sha256 } from '../kernel/digest.js'
import type { RefreshTokenRecord, RefreshTokenStore } from './refresh-tokens.js'
import type { TokenDenylist } from './repositories.js'
import type { SessionListItem, SessionSource } from './session-admin.js'
import type { BaseUser, Id } from './user.js'
import { describeUserAgent } from './user-agent.js'

/**
 * The public handle of a refresh-token family in the session list: `r_` and 22 base64url characters, a
 * digest of the family id. The prefix keeps it apart from a session's handle (`s_`), so
 * `DELETE /users/me/sessions/:id` never confuses the two kinds.
 *
 * @example
 * ```ts
 * refreshFamilyHandle('0f8e...') // 'r_' followed by 22 base64url characters
 * ```
 */
export function refreshFamilyHandle(familyId: string): string {
  const digest = sha256(`fastify-users refresh family\0${familyId}`, 'base64url')
  return `r_${digest.slice(0, 22)}`
}

/**
 * The deny-list key that ends every access token of a family: `family:` and the family id (a UUID), which
 * no token id can equal. The JWT backend checks it beside the token's own `jti`.
 *
 * @example
 * ```ts
 * await denylist.has(refreshFamilyDenyKey(claims.fam))
 * ```
 */
export function refreshFamilyDenyKey(familyId: string): string {
  return `family:${familyId}`
}

/**
 * The longest access-token lifetime the service accepts (`tokenLifetimes.access`, one day) plus the
 * largest verification clock tolerance (60 s), in milliseconds.
 */
const LONGEST_ACCESS_MS = 86_460_000

/** Options of {@link RefreshFamilySource}. */
export interface RefreshFamilySourceOptions {
  store: RefreshTokenStore
  /** Where the user's current credential version is read: families of an older version are over. */
  users: { findById(id: Id): Promise<BaseUser | null> }
  /** The deny-list the JWT backends check. */
  denylist: TokenDenylist
  now: () => number
  /**
   * How long the access tokens of an ended family must stay denied, in milliseconds: the access-token
   * lifetime plus the verification clock tolerance. Default: one day and a minute, the longest the
   * service accepts (the plugin passes its exact value).
   */
  accessTokenMs?: number
}

/**
 * The refresh-token families of the JWT backends as a {@link SessionSource}. `BaseUserService.sessions`
 * holds one when the service has a `refreshTokenStore` and a `tokenDenylist`; the Fastify plugin replaces
 * it with one on its own deny-list.
 *
 * @example
 * ```ts
 * service.sessions.addSource(new RefreshFamilySource({ store, users, denylist, now: () => Date.now() }))
 * ```
 */
export class RefreshFamilySource implements SessionSource {
  readonly kind = 'refresh'
  readonly #options: RefreshFamilySourceOptions

  constructor(options: RefreshFamilySourceOptions) {
    this.#options = options
  }

  /** The user's tokens grouped by family, only of their current credential version. */
  async #families(userId: Id): Promise<Map<string, RefreshTokenRecord[]>> {
    const user = await this.#options.users.findById(userId)
    const families = new Map<string, RefreshTokenRecord[]>()
    if (!user) return families
    for (const record of await this.#options.store.listByUser(String(userId))) {
      // A moved credential version ended the family already: rotation refuses it.
      if (record.authVersion !== user.authVersion) continue
      const family = families.get(record.familyId)
      if (family) family.push(record)
      else families.set(record.familyId, [record])
    }
    return families
  }

  async list(userId: Id, currentCredentialId: string | null): Promise<SessionListItem[]> {
    const now = this.#options.now()
    const items: SessionListItem[] = []
    for (const [familyId, records] of await this.#families(userId)) {
      // Live while it holds a fresh, unexpired token; its newest token tells where it was last used.
      const fresh = records.filter((r) => r.usedAt === null && r.expiresAt > now)
      const newest = fresh.sort((a, b) => b.issuedAt - a.issuedAt)[0]
      if (!newest) continue
      items.push({
        id: refreshFamilyHandle(familyId),
        kind: 'refresh',
        current: familyId === currentCredentialId,
        createdAt: newest.familyCreatedAt,
        lastSeenAt: newest.issuedAt,
        expiresAt: newest.expiresAt,
        ip: newest.ip,
        userAgent: newest.userAgent,
        device: describeUserAgent(newest.userAgent),
      })
    }
    return items
  }

  async end(userId: Id, handle: string): Promise<boolean> {
    if (!handle.startsWith('r_')) return false
    // Only the user's own families are looked at, so another user's handle is simply not found.
    for (const familyId of (await this.#families(userId)).keys()) {
      if (refreshFamilyHandle(familyId) === handle) {
        await this.#end(userId, familyId)
        return true
      }
    }
    return false
  }

  async endOthers(userId: Id, currentCredentialId: string | null): Promise<number> {
    const now = this.#options.now()
    let ended = 0
    for (const [familyId, records] of await this.#families(userId)) {
      if (familyId === currentCredentialId) continue
      await this.#end(userId, familyId)
      if (records.some((r) => r.usedAt === null && r.expiresAt > now)) ended++
    }
    return ended
  }

  async #end(userId: Id, familyId: string): Promise<void> {
    const { store, denylist, now } = this.#options
    // Denied first: from here no access token of the family passes, even while its tokens are deleted.
    // The user id lets an authentication cache in front drop the user's cached tokens at once.
    const until = now() + (this.#options.accessTokenMs ?? LONGEST_ACCESS_MS)
    await denylist.add(refreshFamilyDenyKey(familyId), until, String(userId))
    await store.deleteFamily(familyId)
  }
}
