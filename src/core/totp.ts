/**
 * TOTP (RFC 6238) as a second factor: enrolment (a secret, its `otpauth://` URI and a QR code), the
 * confirming first code, code checks with no replay, and ten single-use recovery codes.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { decodeBase32IgnorePadding, encodeBase32NoPadding } from '@oslojs/encoding'
import type { Clock } from '../kernel/clock.js'
import { sha256 } from '../kernel/digest.js'
import { ConflictError } from '../kernel/errors.js'
import { loadOnce } from '../kernel/load-once.js'
import type { SecondFactor } from './second-factor.js'
import type { SecretBox } from './secret-box.js'
import type { TotpRecord, TotpRepository } from './totp-repository.js'
import type { BaseUser } from './user.js'

/** The packages of TOTP codes and QR codes. */
export interface TotpLibraries {
  otp: typeof import('@oslojs/otp')
  qr: typeof import('uqr')
}

/**
 * `@oslojs/otp` and `uqr`, imported once, on the first call: only applications with two-factor on load
 * them. The plugin calls it at registration, so a missing package fails there.
 *
 * @example
 * ```ts
 * const { otp, qr } = await totpLibraries()
 * ```
 */
export const totpLibraries: () => Promise<TotpLibraries> = loadOnce(() =>
  Promise.all([import('@oslojs/otp'), import('uqr')]).then(([otp, qr]) => ({ otp, qr })),
)

/** 30-second steps and 6 digits: what every authenticator app expects by default. */
const PERIOD_SECONDS = 30
const DIGITS = 6
/** One step either side of the current one is accepted, for clock drift and typing time. */
const DRIFT_STEPS = 1
const RECOVERY_CODE_COUNT = 10

/**
 * What an enrolment hands to the user, once: put it in an authenticator app, then confirm with a code.
 *
 * @example
 * ```ts
 * const { secret, uri, qrCode } = await totp.enrol(user)
 * // <img src={qrCode}> or show `secret` for manual entry
 * ```
 */
export interface TotpEnrolment {
  /** The base32 secret, for manual entry. */
  secret: string
  /** The `otpauth://totp/...` URI the QR code encodes. */
  uri: string
  /** The QR code of `uri`, an SVG image as a `data:image/svg+xml;base64,` URL. */
  qrCode: string
}

/** Options of {@link TotpFactor}. */
export interface TotpFactorOptions {
  repository: TotpRepository
  /** Encrypts the secrets at rest. */
  secrets: SecretBox
  clock: Clock
  /** The issuer shown in authenticator apps. */
  issuer: string
}

/** The hex SHA-256 of a normalised recovery code (codes carry 50 random bits: no slow hash needed). */
function digestRecoveryCode(code: string): string {
  return sha256(code.toLowerCase().replace(/[^a-z2-7]/g, ''), 'hex')
}

/** `xxxxx-xxxxx` in lower-case base32: 50 random bits, easy to read out and type. */
function newRecoveryCode(): string {
  const text = encodeBase32NoPadding(randomBytes(7)).slice(0, 10).toLowerCase()
  return `${text.slice(0, 5)}-${text.slice(5)}`
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * The TOTP factor. It checks and consumes codes; who may ask (a fresh proof, the throttle) is the job of
 * `TwoFactor`, which wraps it.
 *
 * @example
 * ```ts
 * const totp = new TotpFactor({ repository, secrets: new SecretBox(secret, 'totp'), clock, issuer: 'Acme' })
 * const enrolment = await totp.enrol(user)
 * const recoveryCodes = await totp.confirm(user, '123456')
 * ```
 */
export class TotpFactor<U extends BaseUser = BaseUser> implements SecondFactor<U> {
  readonly kind = 'totp'
  /** A code of the app, or one of the recovery codes. */
  readonly methods = ['totp', 'recovery'] as const
  readonly #options: TotpFactorOptions

  constructor(options: TotpFactorOptions) {
    this.#options = options
  }

  /** Whether the user has a confirmed TOTP factor. */
  async isEnabled(user: U): Promise<boolean> {
    const record = await this.#options.repository.find(user.id)
    return record !== null && record.confirmedAt !== null
  }

  /**
   * Starts (or restarts) an enrolment: a new secret, stored encrypted and unconfirmed.
   *
   * @throws ConflictError when the user already has a confirmed factor (disable it first).
   */
  async enrol(user: U): Promise<TotpEnrolment> {
    const { repository, secrets, clock, issuer } = this.#options
    const existing = await repository.find(user.id)
    if (existing?.confirmedAt != null) throw new ConflictError('two-factor authentication is already on')
    const { otp, qr } = await totpLibraries()
    const key = randomBytes(20)
    const secret = encodeBase32NoPadding(key)
    await repository.save({
      userId: user.id,
      secret: secrets.seal(secret),
      confirmedAt: null,
      lastStep: null,
      recoveryCodes: [],
      createdAt: clock.now(),
    })
    const uri = otp.createTOTPKeyURI(issuer, user.email, key, PERIOD_SECONDS, DIGITS)
    const svg = qr.renderSVG(uri, { border: 2 })
    return { secret, uri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` }
  }

  /**
   * Confirms a pending enrolment with a first code and returns the recovery codes (shown once).
   *
   * @returns the recovery codes, or `null` when the code is wrong.
   * @throws ConflictError when there is no pending enrolment.
   */
  async confirm(user: U, code: unknown): Promise<string[] | null> {
    const { repository, clock } = this.#options
    const record = await repository.find(user.id)
    if (!record || record.confirmedAt !== null) throw new ConflictError('no two-factor enrolment is pending')
    const step = await this.#matchingStep(record, code)
    if (step === null) return null
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    const changed = await repository.update(
      user.id,
      { confirmedAt: clock.now(), lastStep: step, recoveryCodes: codes.map(digestRecoveryCode) },
      { confirmedAt: null, secret: record.secret },
    )
    return changed ? codes : null
  }

  /**
   * Checks `input.code` (a TOTP code) or `input.recoveryCode` and consumes it: a code's time step, or the
   * recovery code, is never accepted again. `null` when `input` has neither.
   */
  async verify(user: U, input: Record<string, unknown>): Promise<{ valid: boolean; kind: string } | null> {
    if (input.code !== undefined) return { valid: await this.#useCode(user, input.code), kind: 'totp' }
    if (input.recoveryCode !== undefined) {
      return { valid: await this.#useRecoveryCode(user, input.recoveryCode), kind: 'recovery-code' }
    }
    return null
  }

  /** Replaces the recovery codes with new ones and returns them (shown once). */
  async regenerateRecoveryCodes(user: U): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    const record = await this.#confirmed(user)
    await this.#options.repository.update(
      user.id,
      { recoveryCodes: codes.map(digestRecoveryCode) },
      { secret: record.secret },
    )
    return codes
  }

  /** How many unused recovery codes the user has left. */
  async recoveryCodesLeft(user: U): Promise<number> {
    const record = await this.#options.repository.find(user.id)
    return record?.confirmedAt != null ? record.recoveryCodes.length : 0
  }

  /** Removes the factor (confirmed or pending). Returns whether there was one. */
  async remove(user: U): Promise<boolean> {
    return this.#options.repository.delete(user.id)
  }

  async #confirmed(user: U): Promise<TotpRecord> {
    const record = await this.#options.repository.find(user.id)
    if (!record || record.confirmedAt === null) throw new ConflictError('two-factor authentication is off')
    return record
  }

  async #useCode(user: U, code: unknown): Promise<boolean> {
    const record = await this.#options.repository.find(user.id)
    if (!record || record.confirmedAt === null) return false
    const step = await this.#matchingStep(record, code)
    if (step === null) return false
    // Compare-and-set on the last step: of two requests with the same code, one wins.
    return this.#options.repository.update(user.id, { lastStep: step }, { lastStep: record.lastStep })
  }

  async #useRecoveryCode(user: U, code: unknown): Promise<boolean> {
    if (typeof code !== 'string' || code.length > 64) return false
    const record = await this.#options.repository.find(user.id)
    if (!record || record.confirmedAt === null) return false
    const digest = digestRecoveryCode(code)
    const left = record.recoveryCodes.filter((stored) => !sameText(stored, digest))
    if (left.length === record.recoveryCodes.length) return false
    return this.#options.repository.update(
      user.id,
      { recoveryCodes: left },
      { recoveryCodes: record.recoveryCodes },
    )
  }

  /** The step whose code `code` is, within the drift and later than the last accepted step; or `null`. */
  async #matchingStep(record: TotpRecord, code: unknown): Promise<number | null> {
    if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return null
    const { generateHOTP } = (await totpLibraries()).otp
    const key = decodeBase32IgnorePadding(this.#options.secrets.open(record.secret))
    const now = Math.floor(this.#options.clock.now() / 1000 / PERIOD_SECONDS)
    let found: number | null = null
    // Every candidate is computed, so the time taken does not tell which step matched.
    for (let step = now - DRIFT_STEPS; step <= now + DRIFT_STEPS; step++) {
      const matches = sameText(generateHOTP(key, BigInt(step), DIGITS), code)
      if (matches && found === null && (record.lastStep === null || step > record.lastStep)) found = step
    }
    return found
  }
}
