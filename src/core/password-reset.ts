/**
 * The password reset flow, and the notice to the owner of an address someone tried to register with
 * (which carries a reset link). A reset token is bound to everything that must not have moved when it is
 * used: the password hash (so it works once), the address it was mailed to (so it proves that mailbox),
 * and the credential version.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { InvalidTokenError } from '../kernel/errors.js'
import { tokenPurposes } from '../tokens/token-codec.js'
import { voidUnprovenCredentials } from './address-proof.js'
import { clearLoginFailures } from './authentication.js'
import { emailFingerprint, passwordFingerprint, sameFingerprint } from './fingerprints.js'
import { canonicalEmail } from './identifiers.js'
import { unlinkUnprovenAccounts } from './oauth-accounts.js'
import {
  endSessions,
  findByEmail,
  hashNewPassword,
  type ServiceContext,
  userFromToken,
} from './service-context.js'
import type { BaseUser, Role } from './user.js'

/**
 * A reset token for the user as they are now.
 *
 * @example
 * ```ts
 * const token = resetToken(context, user)
 * ```
 */
export function resetToken<U extends BaseUser>(context: ServiceContext<U, Role, unknown>, user: U): string {
  return context.service.generateToken(user.id, tokenPurposes.reset.audience, {
    fp: passwordFingerprint(user.passwordHash),
    ef: emailFingerprint(user.email),
    ver: user.authVersion,
  })
}

/**
 * Starts a reset for an address; the lookup and the mail run in the background, so the answer is the
 * same for every address. A malformed address throws `ValidationError`.
 *
 * @example
 * ```ts
 * await initiatePasswordReset(context, 'ada@example.com')
 * ```
 */
export async function initiatePasswordReset<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  email: string,
): Promise<void> {
  // Refused as at registration when malformed: a check of the text alone, which reveals no account.
  canonicalEmail(email)
  context.notices.inBackground('password-reset', async () => {
    const user = await findByEmail(context, email)
    if (!user?.isActive) return
    const token = resetToken(context, user)
    context.logger.info(
      { event: 'authn_token_created', userId: user.id, purpose: 'reset' },
      'reset requested',
    )
    context.notices.deliver('password-reset', user, () => context.service.sendPasswordResetToken(user, token))
  })
}

/**
 * Sets a new password with a reset token; see `BaseUserService.resetPassword`.
 *
 * @example
 * ```ts
 * const user = await resetPassword(context, token, 'a new long passphrase')
 * ```
 */
export async function resetPassword<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  encodedToken: string,
  password: string,
): Promise<U> {
  const claims = context.tokens.verify(encodedToken, tokenPurposes.reset)
  const user = await userFromToken(context, claims.sub)
  if (!sameFingerprint(claims.fp, passwordFingerprint(user.passwordHash))) {
    throw new InvalidTokenError('already used or password changed')
  }
  if (!sameFingerprint(claims.ef, emailFingerprint(user.email))) {
    throw new InvalidTokenError('email changed since')
  }
  if (claims.ver !== user.authVersion) throw new InvalidTokenError('credentials changed since')
  if (!user.isActive) throw new InvalidTokenError('inactive user')
  const passwordHash = await hashNewPassword(context, password, user)
  // The first proof of the mailbox: the ways in attached while it was unproven (provider links, passkeys,
  // a second factor) go before the account becomes usable (a login through one of them in between would
  // meet the unverified account, or the credential version this update raises).
  if (!user.isVerified) {
    await unlinkUnprovenAccounts(context, user)
    await voidUnprovenCredentials(context.service, user)
  }
  // Compare-and-set on the state the token was checked against: of parallel uses of one token exactly
  // one finds it unchanged; the others fail like a late use. The address is still the one the token was
  // mailed to (checked above, and again by the update), so marking it verified is proven.
  const updated = await context.userRepository.update(
    user.id,
    { passwordHash, isVerified: true, incrementAuthVersion: true },
    {
      expect: {
        passwordHash: user.passwordHash,
        authVersion: user.authVersion,
        email: user.email,
        isActive: true,
      },
    },
  )
  if (!updated) throw new InvalidTokenError('already used or password changed')
  await endSessions(context, updated)
  await clearLoginFailures(context, updated)
  context.logger.info({ event: 'authn_password_change', userId: updated.id, via: 'reset' }, 'password reset')
  context.notices.deliver('password-changed', updated, () =>
    context.service.sendPasswordChangedNotice(updated),
  )
  return updated
}

/**
 * Tells the owner of a taken address that someone tried to register with it, with a reset link; an
 * unverified owner's unproven password is voided first (pre-account hijacking: see "Email verification"
 * in docs/security.md).
 *
 * @example
 * ```ts
 * await noticeExistingAccount(context, { email: 'ada@example.com' })
 * ```
 */
export async function noticeExistingAccount<U extends BaseUser>(
  context: ServiceContext<U, Role, unknown>,
  record: Record<string, unknown>,
): Promise<void> {
  const users = context.userRepository
  let owner = await users.findOne({ email: record.email })
  if (!owner) return
  if (!owner.isVerified) {
    // Whoever registered this unverified account never proved the mailbox, and now a second person claims
    // it. The unproven password is voided and every link already mailed dies with the credential version;
    // the mailbox owner takes the account through the reset link of the notice, which also verifies it.
    // Compare-and-set on the state read: if the owner verified (or anything else moved) meanwhile, the
    // voiding does not apply to the new state, and the notice goes out with a token of the current one.
    owner =
      (await users.update(
        owner.id,
        { passwordHash: `!unusable:${randomBytes(16).toString('base64url')}`, incrementAuthVersion: true },
        { expect: { isVerified: false, authVersion: owner.authVersion } },
      )) ?? (await users.findById(owner.id))
    if (!owner) return
  }
  const found = owner
  const token = resetToken(context, found)
  context.logger.info(
    { event: 'user_created', outcome: 'duplicate', userId: found.id },
    'registration with a taken address',
  )
  context.notices.deliver('existing-account', found, () =>
    context.service.sendExistingAccountNotice(found, token),
  )
}
