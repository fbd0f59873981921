/**
 * The tokens the service signs for a user: which purpose an audience names, and the lifetime of each.
 *
 * @module
 */
import { type TokenPurpose, tokenPurposes } from '../tokens/token-codec.js'
import type { TokenSigning } from './ports.js'
import type { TokenLifetimes } from './service-options.js'
import type { Id } from './user.js'

/**
 * Signs a token for a user and an audience; see `BaseUserService.generateToken`. The lifetime defaults to
 * the configured one of the audience's purpose (verification, password reset, otherwise access).
 *
 * @example
 * ```ts
 * const token = signUserToken({ tokens, tokenLifetimes }, user.id, tokenPurposes.verify.audience)
 * ```
 */
export function signUserToken(
  signer: { tokens: TokenSigning; tokenLifetimes: Required<TokenLifetimes> },
  userId: Id,
  aud: string,
  claims?: Record<string, unknown>,
  lifetimeSeconds?: number,
): string {
  const purpose = purposeFor(aud)
  const lifetime =
    lifetimeSeconds ??
    (purpose === tokenPurposes.verify
      ? signer.tokenLifetimes.verification
      : purpose === tokenPurposes.reset
        ? signer.tokenLifetimes.passwordReset
        : signer.tokenLifetimes.access)
  return signer.tokens.sign(purpose, { sub: String(userId), lifetimeSeconds: lifetime, claims })
}

// The library's own purposes by audience; any other audience is a purpose of its own.
function purposeFor(aud: string): TokenPurpose {
  for (const purpose of Object.values(tokenPurposes)) if (purpose.audience === aud) return purpose
  return { audience: aud, type: 'JWT' }
}
