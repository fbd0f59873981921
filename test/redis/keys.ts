/** The Redis test helpers. */
import type { Redis } from 'ioredis'

/** Every key under the prefix, by SCAN (never KEYS on a shared server). */
export async function keysUnder(redis: Redis, keyPrefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const batch of redis.scanStream({ match: `${keyPrefix}*`, count: 500 })) keys.push(...batch)
  return keys
}
