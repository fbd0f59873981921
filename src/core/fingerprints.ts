/**
 * Fingerprints that bind tokens and throttle counts to a value without carrying the value: tokens travel
 * in links (which end up in logs and browser histories) and the throttle's store must hold no address in
 * clear.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { sha256 } from '../kernel/digest.js'
import { foldIdentifier } from './identifiers.js'

/**
 * The fingerprint of an email address that binds verification, reset and email-change tokens to it.
 *
 * @example
 * ```ts
 * const ef = emailFingerprint(user.email) // 22 base64url characters
 * ```
 */
export function emailFingerprint(email: string): string {
  return sha256(`email:${email}`, 'base64url').slice(0, 22)
}

/**
 * The fingerprint of a password hash that binds reset tokens to it. The hash is salted, so every new
 * password changes it, and a reset token works once.
 *
 * @example
 * ```ts
 * const fp = passwordFingerprint(user.passwordHash)
 * ```
 */
export function passwordFingerprint(passwordHash: string): string {
  return sha256(passwordHash, 'base64url').slice(0, 22)
}

/**
 * The key under which failed logins of an identifier are counted: the hex SHA-256 of its canonical form
 * (NFKC, trimmed, lower-cased, as identifiers are stored). A hash, so the store holds no address in clear;
 * of the typed value, so unknown identifiers are counted like known ones.
 *
 * @example
 * ```ts
 * // Lift the throttle of an account by hand (an admin tool):
 * await repos.loginAttemptStore.clear(loginAttemptKey(user.email))
 * ```
 */
export function loginAttemptKey(identifier: string): string {
  return sha256(foldIdentifier(identifier), 'hex')
}

/**
 * Compares a fingerprint claim with the expected one in constant time; a missing or non-string claim never
 * matches.
 *
 * @example
 * ```ts
 * if (!sameFingerprint(claims.fp, passwordFingerprint(user.passwordHash))) throw new InvalidTokenError()
 * ```
 */
export function sameFingerprint(claim: unknown, expected: string): boolean {
  const given = Buffer.from(typeof claim === 'string' ? claim : '')
  const wanted = Buffer.from(expected)
  return given.length === wanted.length && timingSafeEqual(given, wanted)
}
