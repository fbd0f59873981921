/**
 * Storage ports in memory, correct and broken, to test the conformance suite itself: the correct ones
 * must pass it (a storage that is not SQL), and each broken one must fail exactly where its bug is.
 */
import type { LoginAttemptStore, SessionRecord } from '../../src/index.js'
import type { RepositoryPorts } from '../../src/testing/index.js'

/** A turn of the event loop: what a network round trip between a read and a write gives other callers. */
const roundTrip = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Correct in-memory ports (all but users and roles). */
export function memoryPorts(): RepositoryPorts {
  const sessions = new Map<string, SessionRecord>()
  const denied = new Map<string, number>()
  const caps = new Map<string, { start: number; sent: number }>()
  let lockTail: Promise<unknown> = Promise.resolve()
  return {
    sessionRepository: {
      async create(record) {
        sessions.set(record.id, { ...record })
      },
      async find(id) {
        const found = sessions.get(id)
        return found ? { ...found } : null
      },
      async touch(id, lastSeenAt) {
        const found = sessions.get(id)
        if (found) found.lastSeenAt = lastSeenAt
      },
      async delete(id) {
        return sessions.delete(id)
      },
      async deleteForUser(userId) {
        return sweep(sessions, (s) => s.userId === userId)
      },
      async listForUser(userId) {
        return [...sessions.values()].filter((s) => s.userId === userId).map((s) => ({ ...s }))
      },
      async deleteExpired(now) {
        return sweep(sessions, (s) => s.expiresAt < now)
      },
    },
    tokenDenylist: {
      async add(jti, expiresAt) {
        denied.set(jti, expiresAt)
      },
      async has(jti) {
        return denied.has(jti)
      },
      async deleteExpired(now) {
        return sweep(denied, (expiresAt) => expiresAt < now)
      },
    },
    loginAttemptStore: memoryAttempts(false),
    mailCapStore: {
      async hit(key, now, windowMs) {
        const entry = caps.get(key)
        if (!entry || entry.start <= now - windowMs) {
          caps.set(key, { start: now, sent: 1 })
          return 1
        }
        entry.sent += 1
        return entry.sent
      },
      async deleteExpired(before) {
        return sweep(caps, (entry) => entry.start <= before)
      },
    },
    adminLock: {
      runExclusive<T>(fn: () => Promise<T>): Promise<T> {
        const run = lockTail.then(fn, fn)
        lockTail = run.catch(() => {})
        return run
      },
    },
  }
}

/**
 * The same ports with three classic bugs: a counter read and written in two steps, a sweep that takes
 * the boundary, a lock that excludes nothing.
 */
export function brokenMemoryPorts(): RepositoryPorts {
  const ports = memoryPorts()
  const sessions = ports.sessionRepository!
  return {
    ...ports,
    loginAttemptStore: memoryAttempts(true),
    sessionRepository: {
      ...sessions,
      deleteExpired: (now) => sessions.deleteExpired(now + 1),
    },
    adminLock: { runExclusive: (fn) => fn() },
  }
}

function memoryAttempts(racy: boolean): LoginAttemptStore {
  const entries = new Map<string, { count: number; lastFailureAt: number }>()
  return {
    async recordFailure(key, now, windowMs) {
      const entry = entries.get(key)
      // The bug: other callers write between this read and the write below, and their counts are lost.
      if (racy) await roundTrip()
      const count = !entry || entry.lastFailureAt < now - windowMs ? 1 : entry.count + 1
      entries.set(key, { count, lastFailureAt: now })
      return count
    },
    async release(key) {
      const entry = entries.get(key)
      if (entry && entry.count > 0) entry.count -= 1
    },
    async clear(key) {
      entries.delete(key)
    },
    async failures(key, now, windowMs) {
      const entry = entries.get(key)
      return entry && entry.lastFailureAt >= now - windowMs ? { ...entry } : null
    },
    async deleteExpired(before) {
      return sweep(entries, (entry) => entry.lastFailureAt < before)
    },
  }
}

function sweep<V>(map: Map<string, V>, expired: (value: V) => boolean): number {
  let removed = 0
  for (const [key, value] of map) {
    if (!expired(value)) continue
    map.delete(key)
    removed += 1
  }
  return removed
}
