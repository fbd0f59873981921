/** The Redis test helpers. */
import type { Redis } from 'ioredis'
import type { SessionRecord } from '../../src/core/repositories.js'

/** Every key under the prefix, by SCAN (never KEYS on a shared server). */
export async function keysUnder(redis: Redis, keyPrefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const batch of redis.scanStream({ match: `${keyPrefix}*`, count: 500 })) keys.push(...batch)
  return keys
}

/** A session of `userId` that started now and ends in an hour. */
export function sessionRecord(id: string, userId: string, now = Date.now()): SessionRecord {
  return {
    id,
    userId,
    authVersion: 0,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 3_600_000,
    ip: null,
    userAgent: null,
  }
}
