/**
 * Opaque session secrets: 256 random bits for the client, and only their SHA-256 for the database, so a
 * leaked table cannot be replayed (docs/security.md, "Sessions"). The lookup is by hash, so timing of the
 * lookup reveals nothing about valid secrets.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { sha256 } from '../kernel/digest.js'

const SECRET = /^[A-Za-z0-9_-]{43}$/

/**
 * A fresh session secret: 32 bytes from the CSPRNG, base64url (43 characters).
 *
 * @example
 * ```ts
 * const secret = generateSessionSecret() // for the client; store hashSessionSecret(secret)
 * ```
 */
export function generateSessionSecret(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The stored id of a secret: hex SHA-256. Returns `null` for anything that is not a secret we issue.
 *
 * @example
 * ```ts
 * hashSessionSecret('not a secret') // null
 * ```
 */
export function hashSessionSecret(secret: unknown): string | null {
  if (typeof secret !== 'string' || !SECRET.test(secret)) return null
  return sha256(secret, 'hex')
}
