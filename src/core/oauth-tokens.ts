/**
 * The provider's tokens, kept with a provider link only when the application asks for them (the plugin's
 * `oauth.storeTokens`): sealed with AES-256-GCM under a key derived from the service's secret, so a copy
 * of the database alone does not give access to the users' provider accounts. The sealed value names its
 * provider and subject, so it cannot be moved to another link.
 *
 * @module
 */
import type { OAuthAccountRepository, OAuthIdentity } from './oauth-accounts.js'
import type { SecretBox } from './secret-box.js'
import type { Id } from './user.js'

/**
 * A provider's tokens, as returned by `service.oauth.tokens(userId, provider)`.
 *
 * @example
 * ```ts
 * const tokens = await service.oauth.tokens(user.id, 'github')
 * if (tokens) await fetch('https://api.github.com/user/repos', { headers: { authorization: `Bearer ${tokens.accessToken}` } })
 * ```
 */
export interface ProviderTokens {
  accessToken: string
  refreshToken: string | null
  /** Epoch milliseconds, when the provider said. */
  expiresAt: number | null
  /** The scopes granted, space-separated, when the provider said. */
  scope: string | null
}

interface Sealed {
  provider: string
  subject: string
  tokens: ProviderTokens
}

/**
 * Stores the identity's tokens with its link, sealed; does nothing when the identity carries none.
 *
 * @example
 * ```ts
 * await storeTokens(context, repo, identity)
 * ```
 */
export async function storeTokens(
  context: { providerTokenBox: SecretBox },
  repo: OAuthAccountRepository,
  identity: OAuthIdentity,
): Promise<void> {
  if (!identity.tokens) return
  const sealed: Sealed = { provider: identity.provider, subject: identity.subject, tokens: identity.tokens }
  await repo.setTokens(
    identity.provider,
    identity.subject,
    context.providerTokenBox.seal(JSON.stringify(sealed)),
  )
}

/**
 * The tokens stored with the user's link to `provider`, opened; `null` when none are stored.
 *
 * @throws Error when the stored value does not open with the secret, or belongs to another link.
 *
 * @example
 * ```ts
 * const tokens = await readTokens(context, repo, user.id, 'github')
 * ```
 */
export async function readTokens(
  context: { providerTokenBox: SecretBox },
  repo: OAuthAccountRepository,
  userId: Id,
  provider: string,
): Promise<ProviderTokens | null> {
  const row = await repo.findTokens(userId, provider)
  if (!row?.tokens) return null
  const sealed = JSON.parse(context.providerTokenBox.open(row.tokens)) as Sealed
  if (sealed.provider !== provider || sealed.subject !== row.subject) {
    throw new Error('fastify-users: stored provider tokens belong to another link')
  }
  return sealed.tokens
}
