/**
 * Encryption at rest of small secrets (TOTP keys): AES-256-GCM under a key derived with HKDF-SHA-256 from
 * the application's secret, so the database alone never reveals them.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 'v1'

/**
 * Encrypts with the first secret and decrypts with any of them, so the secret list rotates like the token
 * secrets: put the new secret first, keep the old one until every value was re-encrypted or is no longer
 * needed.
 *
 * @example
 * ```ts
 * const box = new SecretBox(['new secret ...', 'old secret ...'], 'fastify-users totp')
 * const stored = box.seal('JBSWY3DPEHPK3PXP')
 * box.open(stored) // 'JBSWY3DPEHPK3PXP'
 * ```
 */
export class SecretBox {
  readonly #keys: Buffer[]

  /**
   * @param secrets - the application's secret or secret list (the first encrypts).
   * @param purpose - the HKDF `info`: a distinct purpose gives an independent key.
   */
  constructor(secrets: string | readonly string[], purpose: string) {
    const list = typeof secrets === 'string' ? [secrets] : [...secrets]
    if (list.length === 0) throw new TypeError('fastify-users: option `secret` must not be an empty list')
    this.#keys = list.map((s) => Buffer.from(hkdfSync('sha256', s, 'fastify-users', purpose, 32)))
  }

  /** Encrypts `plaintext`: `v1.<iv>.<ciphertext>.<tag>`, base64url. */
  seal(plaintext: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0] as Buffer, iv)
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return [VERSION, iv, data, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.')
  }

  /**
   * Decrypts a value of {@link seal} with each key in turn.
   *
   * @throws Error when no key opens it (another secret, or tampered).
   */
  open(sealed: string): string {
    const [version, iv, data, tag] = sealed.split('.')
    if (version !== VERSION || iv === undefined || data === undefined || tag === undefined) {
      throw new Error('fastify-users: unreadable encrypted value')
    }
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
        decipher.setAuthTag(Buffer.from(tag, 'base64url'))
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
          'utf8',
        )
      } catch {
        // Not this key: try the next one.
      }
    }
    throw new Error('fastify-users: no configured secret decrypts this value')
  }
}
