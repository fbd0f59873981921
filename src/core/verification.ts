/**
 * The email verification flow: a token bound to the address and the credential version, mailed as a link;
 * completing it needs the account's password too (a link alone never makes usable a password the clicker
 * did not choose: see "Email verification" in docs/security.md).
 *
 * @module
 */
import { AlreadyVerifiedError, InvalidTokenError, PasswordRequiredError } from '../kernel/errors.js'
import { tokenPurposes } from '../tokens/token-codec.js'
import { provePassword } from './authentication.js'
import { emailFingerprint } from './fingerprints.js'
import { canonicalEmail } from './identifiers.js'
import { findByEmail, type ServiceContext, userFromToken } from './service-context.js'
import type { BaseUser, Role } from './user.js'

/**
 * Makes a verification token bound to the user's current email and hands it to `sendVerificationToken`
 * in the background.
 *
 * @example
 * ```ts
 * await initiateVerification(context, user)
 * ```
 */
export async function initiateVerification<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  user: U,
): Promise<void> {
  const token = context.service.generateToken(user.id, tokenPurposes.verify.audience, {
    ef: emailFingerprint(user.email),
    ver: user.authVersion,
  })
  context.notices.deliver('verification', user, () => context.service.sendVerificationToken(user, token))
}

/**
 * A new verification mail for an address, looked up in the background so the answer is the same for
 * every address; a malformed address throws `ValidationError` (a check of the text alone).
 *
 * @example
 * ```ts
 * await requestVerification(context, 'ada@example.com')
 * ```
 */
export async function requestVerification<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  email: string,
): Promise<void> {
  // A malformed address is refused as at registration: the check looks at the text only, the same for
  // every input, so it says nothing about accounts.
  canonicalEmail(email)
  context.notices.inBackground('verification', async () => {
    const user = await findByEmail(context, email)
    if (user?.isActive && !user.isVerified) await context.service.initiateVerification(user)
  })
}

/**
 * Completes verification with the token and the account's password; see `BaseUserService.verify`.
 *
 * @example
 * ```ts
 * const user = await verify(context, token, request, password)
 * ```
 */
export async function verify<U extends BaseUser, Req>(
  context: ServiceContext<U, Role, Req>,
  encodedToken: string,
  request: Req | undefined,
  password: string | undefined,
): Promise<U> {
  const claims = context.tokens.verify(encodedToken, tokenPurposes.verify)
  const user = await userFromToken(context, claims.sub)
  if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
  if (typeof claims.ef !== 'string' || claims.ef !== emailFingerprint(user.email))
    throw new InvalidTokenError('email changed')
  // A second click on a good link: say so (only the link's holder can get here).
  if (user.isVerified) throw new AlreadyVerifiedError()
  // Pre-account hijacking: whoever registered may not own the mailbox, so the link alone must not make
  // their password usable. Completing needs that password; the mailbox owner who did not register
  // resets it instead (which verifies too).
  await provePassword(context, user, password, () => new PasswordRequiredError(), 'verification')
  // Compare-and-set: of parallel uses of one link exactly one verifies (and runs the hook); the others
  // fail like a late use.
  const verified = await context.userRepository.update(
    user.id,
    { isVerified: true },
    { expect: { isVerified: false, authVersion: user.authVersion, email: user.email } },
  )
  if (!verified) throw new InvalidTokenError('already used')
  context.logger.info({ event: 'user_updated', userId: verified.id, change: 'verified' }, 'email verified')
  await context.service.postVerificationHook(verified, request)
  return verified
}
