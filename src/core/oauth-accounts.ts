/**
 * Sign-in with an identity provider, on the core side: what a provider identity (provider, subject, email,
 * whether the provider verified it) means for the users table. The protocol itself (redirects, PKCE, state,
 * nonce, ID tokens) lives in the Fastify plugin; this module only decides who the identity is:
 *
 * - an identity already linked logs its user in;
 * - a new identity whose email no account holds creates a user, verified only when the provider verified
 *   the email, with no usable password;
 * - a new identity whose email an account holds is linked to it only when the provider verified the email
 *   AND the account is verified; otherwise the user must log in first and link, so an unverified address
 *   at a provider can never take over an account.
 *
 * @module
 */

import {
  LastLoginMethodError,
  OAuthAccountInUseError,
  OAuthCallbackError,
  OAuthLinkRequiredError,
} from '../kernel/account-errors.js'
import { ConflictError, InactiveUserError, NotFoundError, NotVerifiedError } from '../kernel/errors.js'
import {
  hasUsablePassword,
  keepsAWayToLogIn,
  type RemainingLogins,
  type UnlinkOutcome,
} from './login-methods.js'
import { type ProviderTokens, readTokens, storeTokens } from './oauth-tokens.js'
import type { NewUserRecord } from './repositories.js'
import * as roles from './role-admin.js'
import { findByEmail, type ServiceContext, translateConflict } from './service-context.js'
import type { BaseUser, Id, Role } from './user.js'
import { checkUserFields } from './user-fields.js'

export { hasUsablePassword, keepsAWayToLogIn, type RemainingLogins, type UnlinkOutcome }

/**
 * The password hash of a user created by a provider: no hasher recognises it, so a password login fails
 * exactly like a wrong password, until the user sets a password through the reset flow.
 */
export const UNUSABLE_PASSWORD_HASH = '!oauth'

/**
 * Who a provider says the user is, after the protocol checks passed.
 *
 * @example
 * ```ts
 * const identity: OAuthIdentity = { provider: 'google', subject: '1089...', email: 'ada@example.com', emailVerified: true }
 * ```
 */
export interface OAuthIdentity {
  /** The provider's name in the plugin's `oauth.providers`. */
  provider: string
  /** The provider's stable id of the user (`sub`, or GitHub's numeric id). Never the email. */
  subject: string
  /** The email the provider gave, or `null`. */
  email: string | null
  /** Whether the provider asserts that the user controls that email. */
  emailVerified: boolean
  /** The provider's tokens, stored encrypted with the link when given (the plugin's `oauth.storeTokens`). */
  tokens?: ProviderTokens
}

/**
 * One provider identity linked to a user.
 *
 * @example
 * ```ts
 * const accounts: LinkedAccount[] = await service.listLinkedAccounts(user.id)
 * ```
 */
export interface LinkedAccount {
  provider: string
  subject: string
  userId: Id
  /** The provider's email when the link was made (for display; logins go by `subject`). */
  email: string | null
  /** Epoch milliseconds. */
  createdAt: number
}

/**
 * Where links live (`createKyselyRepositories(db).oauthAccountRepository`). `(provider, subject)` is unique:
 * `insert` of a taken pair throws `ConflictError`.
 *
 * @example
 * ```ts
 * const service = new BaseUserService({ secret, ...createKyselyRepositories(db) })
 * ```
 */
export interface OAuthAccountRepository {
  find(provider: string, subject: string): Promise<LinkedAccount | null>
  listForUser(userId: Id): Promise<LinkedAccount[]>
  insert(account: LinkedAccount): Promise<void>
  /** Stores (or with `null` clears) the sealed provider tokens of a link; a missing link is a no-op. */
  setTokens(provider: string, subject: string, sealed: string | null): Promise<void>
  /** The subject and sealed tokens of the user's link to `provider`, or `null` without such a link. */
  findTokens(userId: Id, provider: string): Promise<{ subject: string; tokens: string | null } | null>
  /**
   * Deletes the user's link to `provider` if `mayDelete`, given what would remain (the password hash, the
   * other providers and the count of the user's passkeys), allows it: the check and the delete are one
   * atomic step (a transaction holding a lock on the user's row, or its equivalent), so two concurrent
   * calls for two providers of one user cannot both see the other's link as remaining.
   * Answers `'missing'` when the user or the link does not exist, `'refused'` when `mayDelete` said no.
   * Any other writer that takes away a way to log in must take the same lock.
   */
  deleteIf(
    userId: Id,
    provider: string,
    mayDelete: (remaining: RemainingLogins) => boolean,
  ): Promise<UnlinkOutcome>
}

/** The hooks the flows call on the service (so a subclass's overrides run). */
export interface OAuthHooks<U extends BaseUser, Req> {
  preOAuthLoginHook(identity: OAuthIdentity, request?: Req): Promise<boolean | undefined>
  postOAuthLoginHook(user: U, identity: OAuthIdentity, request?: Req): Promise<void>
  postOAuthLinkHook(user: U, account: LinkedAccount, request?: Req): Promise<void>
}

type Context<U extends BaseUser, Req> = ServiceContext<U, Role, Req> & { oauthHooks: OAuthHooks<U, Req> }

function repository(context: ServiceContext<BaseUser, Role, unknown>): OAuthAccountRepository {
  const repo = context.oauthAccountRepository
  if (!repo) {
    throw new TypeError(
      'fastify-users: provider sign-in needs an `oauthAccountRepository` (createKyselyRepositories(db) has one)',
    )
  }
  return repo
}

async function insertLink<U extends BaseUser, Req>(
  context: Context<U, Req>,
  user: U,
  identity: OAuthIdentity,
  request: Req | undefined,
): Promise<LinkedAccount> {
  const account: LinkedAccount = {
    provider: identity.provider,
    subject: identity.subject,
    userId: user.id,
    email: identity.email,
    createdAt: context.clock.now(),
  }
  try {
    await repository(context).insert(account)
  } catch (err) {
    // A concurrent callback linked the same identity first: the unique index decided.
    if (err instanceof ConflictError) throw new OAuthAccountInUseError()
    throw err
  }
  context.logger.info(
    { event: 'oauth_linked', userId: user.id, provider: identity.provider },
    'provider linked',
  )
  await context.oauthHooks.postOAuthLinkHook(user, account, request)
  return account
}

function checkCanLogIn<U extends BaseUser>(context: ServiceContext<U, Role, unknown>, user: U): void {
  if (!user.isActive) throw new InactiveUserError()
  if (context.requireVerificationOnRegistration && !user.isVerified) throw new NotVerifiedError()
}

/**
 * The body of `service.oauth.signIn`: the user this identity logs in, created or linked by the
 * rules of this module. Returns `null` when `preOAuthLoginHook` refuses.
 *
 * @throws OAuthLinkRequiredError when the email belongs to an account and the rules forbid linking it.
 * @throws InactiveUserError, NotVerifiedError as a password login would.
 *
 * @example
 * ```ts
 * const user = await signInWithOAuth(context, identity, request)
 * ```
 */
export async function signInWithOAuth<U extends BaseUser, Req>(
  context: Context<U, Req>,
  identity: OAuthIdentity,
  request?: Req,
): Promise<U | null> {
  if ((await context.oauthHooks.preOAuthLoginHook(identity, request)) === false) return null
  const linked = await repository(context).find(identity.provider, identity.subject)
  let user: U
  if (linked) {
    user = await context.service.getUser(linked.userId)
  } else {
    const existing = identity.email === null ? null : await findByEmail(context, identity.email)
    if (existing) {
      // Both sides must have proven the mailbox; otherwise whoever registered the address at a lax
      // provider (or at our registration form) would get into the other's account.
      if (!identity.emailVerified || !existing.isVerified) {
        context.logger.warn(
          { event: 'oauth_link_refused', userId: existing.id, provider: identity.provider },
          'provider identity not linked automatically',
        )
        throw new OAuthLinkRequiredError()
      }
      await insertLink(context, existing, identity, request)
      user = existing
    } else {
      user = await createUser(context, identity, request)
    }
  }
  checkCanLogIn(context, user)
  await storeTokens(context, repository(context), identity)
  await context.oauthHooks.postOAuthLoginHook(user, identity, request)
  context.logger.info(
    { event: 'authn_login_success', userId: user.id, provider: identity.provider },
    'provider login succeeded',
  )
  return user
}

async function createUser<U extends BaseUser, Req>(
  context: Context<U, Req>,
  identity: OAuthIdentity,
  request: Req | undefined,
): Promise<U> {
  if (identity.email === null) {
    throw new OAuthCallbackError(
      'the identity provider gave no email address; one is needed to create an account',
    )
  }
  const record = checkUserFields({ email: identity.email }, 'create', {
    userFields: context.userRepository.userFields,
    userAuthIdentifier: context.userAuthIdentifier,
    idType: context.userRepository.idType,
  })
  record.passwordHash = UNUSABLE_PASSWORD_HASH
  record.isVerified = identity.emailVerified
  record.isActive = true
  const defaultRoles = await roles.defaultRoleRecords(context)
  let user: U
  try {
    user = await context.userRepository.insert(record as NewUserRecord)
  } catch (err) {
    throw translateConflict(context, err)
  }
  if (defaultRoles.length > 0) user = await roles.assignDefaultRoles(context, user, defaultRoles)
  context.logger.info(
    { event: 'user_created', userId: user.id, provider: identity.provider },
    'user created by provider',
  )
  await insertLink(context, user, identity, request)
  if (!user.isVerified && context.requireVerificationOnRegistration)
    await context.service.initiateVerification(user)
  return user
}

/**
 * The body of `service.oauth.link`: links the identity to the (already authenticated) user.
 * Linking the same identity again is a no-op.
 *
 * @throws OAuthAccountInUseError when another user holds the identity.
 * @throws ConflictError when the user already has another account of that provider linked.
 *
 * @example
 * ```ts
 * await linkOAuthAccount(context, user.id, identity, request)
 * ```
 */
export async function linkOAuthAccount<U extends BaseUser, Req>(
  context: Context<U, Req>,
  userId: Id,
  identity: OAuthIdentity,
  request?: Req,
): Promise<LinkedAccount> {
  const user = await context.service.getUser(userId)
  const repo = repository(context)
  const taken = await repo.find(identity.provider, identity.subject)
  if (taken) {
    if (String(taken.userId) !== String(user.id)) throw new OAuthAccountInUseError()
    await storeTokens(context, repo, identity)
    return taken
  }
  const mine = await repo.listForUser(user.id)
  if (mine.some((account) => account.provider === identity.provider)) {
    throw new ConflictError(`another ${identity.provider} account is already linked: unlink it first`, {
      field: 'provider',
    })
  }
  const account = await insertLink(context, user, identity, request)
  await storeTokens(context, repo, identity)
  return account
}

/**
 * The body of `service.oauth.unlink`.
 *
 * @throws NotFoundError when the user has no link to `provider`.
 * @throws LastLoginMethodError when it is the user's last way to log in.
 *
 * @example
 * ```ts
 * await unlinkOAuthAccount(context, user.id, 'github')
 * ```
 */
export async function unlinkOAuthAccount<U extends BaseUser, Req>(
  context: Context<U, Req>,
  userId: Id,
  provider: string,
): Promise<void> {
  const user = await context.service.getUser(userId)
  // Decided by the store under its lock, not on a list read here: two concurrent unlinks of a user's last
  // two providers would each see the other's link as remaining, and both delete.
  const outcome = await repository(context).deleteIf(user.id, provider, (remaining) =>
    keepsAWayToLogIn(remaining, { passkeyLogin: context.passkeyLogin }),
  )
  if (outcome === 'missing') throw new NotFoundError('user', `no ${provider} account is linked`)
  if (outcome === 'refused') throw new LastLoginMethodError()
  context.logger.info({ event: 'oauth_unlinked', userId: user.id, provider }, 'provider unlinked')
}

/**
 * Removes every provider link of a user whose address was never proven, when the mailbox owner proves it
 * for the first time (a password reset of an unverified account). A link made while the address was
 * unproven (a provider that did not verify it, or whoever held the unverified account) is no proof that
 * its holder owns the mailbox, and kept it would log its holder in to the account the owner just claimed.
 * The owner can link their own providers again from the account. Answers how many links were removed.
 *
 * @example
 * ```ts
 * if (!user.isVerified) await unlinkUnprovenAccounts(context, user)
 * ```
 */
export async function unlinkUnprovenAccounts(
  context: ServiceContext<BaseUser, Role, unknown>,
  user: BaseUser,
): Promise<number> {
  const repo = context.oauthAccountRepository
  if (!repo) return 0
  let removed = 0
  for (const link of await repo.listForUser(user.id)) {
    // The reset sets a usable password, so no way to log in is lost: nothing to weigh under the lock.
    if ((await repo.deleteIf(user.id, link.provider, () => true)) !== 'deleted') continue
    removed++
    context.logger.warn(
      { event: 'oauth_unlinked', userId: user.id, provider: link.provider, reason: 'address_unproven' },
      'provider unlinked: linked while the address was unproven',
    )
  }
  return removed
}

/**
 * The body of `service.oauth.list`: an empty list without a repository.
 *
 * @example
 * ```ts
 * const accounts = await listLinkedAccounts(context, user.id)
 * ```
 */
export async function listLinkedAccounts(
  context: ServiceContext<BaseUser, Role, unknown>,
  userId: Id,
): Promise<LinkedAccount[]> {
  return context.oauthAccountRepository ? context.oauthAccountRepository.listForUser(userId) : []
}

/**
 * The linked provider accounts of the service's users, as `service.oauth`: the service's own API for them,
 * whichever entry point (the plugin's routes, the CLI, application code) calls it.
 *
 * @example
 * ```ts
 * const user = await service.oauth.signIn(identity) // linked, created, or refused by the linking rules
 * const accounts = await service.oauth.list(user.id)
 * ```
 */
export class OAuthAccounts<U extends BaseUser, Req> {
  readonly #context: Context<U, Req>

  constructor(context: Context<U, Req>) {
    this.#context = context
  }

  /** Whether the service has an `oauthAccountRepository`, without which no provider sign-in can work. */
  get hasRepository(): boolean {
    return this.#context.oauthAccountRepository !== undefined
  }

  /** The user a checked provider identity logs in: linked, created, or refused by the linking rules. */
  signIn(identity: OAuthIdentity, request?: Req): Promise<U | null> {
    return signInWithOAuth(this.#context, identity, request)
  }

  /** Links a checked provider identity to a user who is logged in. */
  link(userId: Id, identity: OAuthIdentity, request?: Req): Promise<LinkedAccount> {
    return linkOAuthAccount(this.#context, userId, identity, request)
  }

  /** Unlinks a provider; refuses (`LastLoginMethodError`) to leave the user no way to log in. */
  unlink(userId: Id, provider: string): Promise<void> {
    return unlinkOAuthAccount(this.#context, userId, provider)
  }

  /**
   * The provider's tokens stored with the user's link to `provider`, decrypted; `null` when none are stored
   * (the default) or there is no such link.
   */
  tokens(userId: Id, provider: string): Promise<ProviderTokens | null> {
    return readTokens(this.#context, repository(this.#context), userId, provider)
  }

  /** The provider identities linked to a user (empty without an `oauthAccountRepository`). */
  list(userId: Id): Promise<LinkedAccount[]> {
    return listLinkedAccounts(this.#context, userId)
  }
}
