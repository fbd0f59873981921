/**
 * Identity providers: the options, the presets, and the protocol through `openid-client` (a certified
 * OpenID Connect and OAuth 2 client): discovery, the authorization URL with PKCE (S256), `state` and (for
 * OpenID Connect) `nonce`, the code exchange with every check of the answer, and the identity it yields.
 *
 * @module
 */
import type * as client from 'openid-client'
import type { OAuthIdentity } from '../../core/oauth-accounts.js'
import { OAuthCallbackError } from '../../kernel/account-errors.js'
import { loadOnce } from '../../kernel/load-once.js'
import { APPLE_ISSUER, AppleClientSecret } from './apple.js'

/** The `openid-client` module. */
export type OpenIdClient = typeof import('openid-client')

/**
 * `openid-client`, imported once, on the first call: only applications with identity providers load it.
 * The plugin calls it at registration, so a missing package fails there.
 *
 * @example
 * ```ts
 * const { randomState } = await openIdClient()
 * ```
 */
export const openIdClient: () => Promise<OpenIdClient> = loadOnce(() => import('openid-client'))

/** The built-in presets. */
export type OAuthPreset = 'google' | 'microsoft' | 'github' | 'gitlab' | 'discord' | 'apple'

/**
 * One identity provider. An OpenID Connect provider needs `issuer` (its endpoints come from discovery); a
 * plain OAuth 2 provider needs `authorizationEndpoint`, `tokenEndpoint` and `userinfoEndpoint`. A preset
 * fills these in; anything given here overrides it (a self-hosted GitLab's `issuer`, a test server).
 *
 * @example
 * ```ts
 * const google: OAuthProviderOptions = { clientId: process.env.GOOGLE_ID!, clientSecret: process.env.GOOGLE_SECRET! }
 * const idp: OAuthProviderOptions = { issuer: 'https://idp.example.com', clientId: 'app', clientSecret: 's3cret' }
 * ```
 */
export interface OAuthProviderOptions {
  /** The preset to start from. Default: the provider's key when it names a preset (`google`, `github`...). */
  preset?: OAuthPreset
  clientId: string
  /** Client secret (sent with HTTP Basic). Without one, the client is public and relies on PKCE alone. */
  clientSecret?: string
  /** OpenID Connect: the issuer URL, whose `/.well-known/openid-configuration` is read at the first use. */
  issuer?: string
  /** Plain OAuth 2: where the browser is sent to log in. */
  authorizationEndpoint?: string
  /** Plain OAuth 2: where the code is exchanged. */
  tokenEndpoint?: string
  /** Plain OAuth 2: the profile (`id` or `sub`, `email`, and `email_verified` or `verified`). */
  userinfoEndpoint?: string
  /** Plain OAuth 2, GitHub-style: the list of the user's emails, where the primary verified one is taken. */
  emailsEndpoint?: string
  /** Microsoft: the tenant id (or domain); required, since a multi-tenant issuer cannot be validated. */
  tenant?: string
  /** Scopes asked for. Default: the preset's, else `['openid', 'email']` (OIDC) or `['email']`. */
  scopes?: readonly string[]
  /** Accept `http:` endpoints. For a provider on the local machine in tests only. Default: `false`. */
  allowInsecureRequests?: boolean
  /**
   * How the provider answers: `'query'` (a redirect, the default) or `'form_post'` (a POST of a form to the
   * callback, which Apple requires). Default: the preset's, else `'query'`.
   */
  responseMode?: 'query' | 'form_post'
  /** Apple: the team id; with `keyId` and `privateKey`, the client secret is a JWT made and renewed here. */
  teamId?: string
  /** Apple: the id of the key. */
  keyId?: string
  /** Apple: the PKCS #8 PEM of the private key (the `.p8` file). */
  privateKey?: string
  /** The name on the login page's "Sign in with" button. Default: the preset's (`GitHub`), else the key. */
  label?: string
}

const LABELS: Readonly<Record<string, string>> = {
  google: 'Google',
  microsoft: 'Microsoft',
  github: 'GitHub',
  gitlab: 'GitLab',
  discord: 'Discord',
  apple: 'Apple',
}

/**
 * The login page's buttons: each configured provider's name and label.
 *
 * @example
 * ```ts
 * providerLabels({ providers: { github: { clientId } } }) // [{ name: 'github', label: 'GitHub' }]
 * ```
 */
export function providerLabels(options: OAuthOptions | undefined): { name: string; label: string }[] {
  return Object.entries(options?.providers ?? {}).map(([name, provider]) => ({
    name,
    label: provider.label ?? LABELS[provider.preset ?? name] ?? name,
  }))
}

/**
 * Sign-in with identity providers.
 *
 * @example
 * ```ts
 * await app.register(fastifyUsers, {
 *   secret, database,
 *   oauth: {
 *     baseUrl: 'https://app.example.com',
 *     providers: { google: { clientId, clientSecret }, github: { clientId: ghId, clientSecret: ghSecret } },
 *     redirectAllowList: ['/', '/settings/accounts'],
 *   },
 * })
 * ```
 */
export interface OAuthOptions {
  /** The providers, by the name used in the routes (`/oauth/<name>/authorize`). */
  providers: Record<string, OAuthProviderOptions>
  /**
   * The application's public origin, from which each provider's redirect URI is built
   * (`<baseUrl><prefix>/oauth/<name>/callback`, to register at the provider). Default: `mail.baseUrl`.
   */
  baseUrl?: string
  /**
   * Where the browser may be sent after the callback: paths (`/account`) or absolute URLs, compared
   * exactly. `redirectTo` outside it is refused. Default: `['/']`; the first entry is used without `redirectTo`.
   */
  redirectAllowList?: readonly string[]
  /** Seals the flow cookie. Default: the plugin's `secret` (required with a constructed `service`). */
  secret?: string
  /**
   * Keep the provider's access and refresh tokens with the link, encrypted (AES-256-GCM, a key derived
   * from the service's secret), for `service.oauth.tokens(userId, provider)`. Default: `false`: they are
   * used once to read the identity and dropped.
   */
  storeTokens?: boolean
}

interface PresetDefinition {
  issuer?: string
  responseMode?: 'query' | 'form_post'
  authorizationEndpoint?: string
  tokenEndpoint?: string
  userinfoEndpoint?: string
  emailsEndpoint?: string
  scopes: readonly string[]
}

const PRESETS: Readonly<Record<OAuthPreset, PresetDefinition>> = {
  google: { issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] },
  microsoft: { scopes: ['openid', 'email', 'profile'] },
  gitlab: { issuer: 'https://gitlab.com', scopes: ['openid', 'email', 'profile'] },
  github: {
    authorizationEndpoint: 'https://github.com/login/oauth/authorize',
    tokenEndpoint: 'https://github.com/login/oauth/access_token',
    userinfoEndpoint: 'https://api.github.com/user',
    emailsEndpoint: 'https://api.github.com/user/emails',
    scopes: ['read:user', 'user:email'],
  },
  // Apple answers with a form POST when `name` or `email` is asked for, and its client secret is a JWT.
  apple: { issuer: APPLE_ISSUER, scopes: ['openid', 'email', 'name'], responseMode: 'form_post' },
  discord: {
    authorizationEndpoint: 'https://discord.com/oauth2/authorize',
    tokenEndpoint: 'https://discord.com/api/oauth2/token',
    userinfoEndpoint: 'https://discord.com/api/users/@me',
    scopes: ['identify', 'email'],
  },
}

const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,62}$/

function fail(option: string, fix: string): never {
  throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
}

/** What the routes keep between the redirect and the callback. */
export interface FlowSecrets {
  state: string
  nonce: string | null
  verifier: string
}

/**
 * One configured provider: builds its authorization URL and turns its callback into an identity.
 *
 * @example
 * ```ts
 * const provider = new OAuthProvider('github', { clientId, clientSecret }, 'https://app.example.com/oauth/github/callback')
 * ```
 */
export class OAuthProvider {
  readonly name: string
  readonly redirectUri: string
  readonly #options: OAuthProviderOptions & PresetDefinition
  readonly #oidc: boolean
  readonly #appleSecret: AppleClientSecret | null
  /** Whether the provider answers with a form POST (the callback route then also accepts POST). */
  readonly formPost: boolean
  #config: Promise<client.Configuration> | null = null

  constructor(name: string, options: OAuthProviderOptions, redirectUri: string) {
    const where = `oauth.providers.${name}`
    if (!PROVIDER_NAME.test(name)) fail(where, 'must be named with lower-case letters, digits and -')
    if (typeof options !== 'object' || options === null) fail(where, 'must be an object')
    if (typeof options.clientId !== 'string' || options.clientId === '')
      fail(`${where}.clientId`, 'is required')
    const presetName = options.preset ?? (Object.hasOwn(PRESETS, name) ? (name as OAuthPreset) : undefined)
    if (presetName !== undefined && !Object.hasOwn(PRESETS, presetName)) {
      fail(`${where}.preset`, `must be one of ${Object.keys(PRESETS).join(', ')}`)
    }
    const preset: PresetDefinition = presetName ? PRESETS[presetName] : { scopes: [] }
    const merged = { ...preset, ...options }
    if (presetName === 'microsoft' && merged.issuer === undefined) {
      if (!options.tenant) fail(`${where}.tenant`, 'is required for Microsoft (your tenant id or domain)')
      merged.issuer = `https://login.microsoftonline.com/${encodeURIComponent(options.tenant)}/v2.0`
    }
    this.#oidc = merged.issuer !== undefined
    if (!this.#oidc && (!merged.authorizationEndpoint || !merged.tokenEndpoint || !merged.userinfoEndpoint)) {
      fail(
        where,
        'needs `issuer` (OpenID Connect) or `authorizationEndpoint`, `tokenEndpoint` and `userinfoEndpoint`',
      )
    }
    const appleKey = [options.teamId, options.keyId, options.privateKey]
    if (appleKey.some((v) => v !== undefined)) {
      if (!appleKey.every((v) => typeof v === 'string' && v !== '')) {
        fail(where, 'needs all of `teamId`, `keyId` and `privateKey` to make its client secret')
      }
      if (options.clientSecret) fail(where, 'takes `clientSecret` or an Apple key, not both')
    } else if (presetName === 'apple' && !options.clientSecret) {
      fail(
        where,
        'needs `teamId`, `keyId` and `privateKey` (Apple signs in with a client secret made from them)',
      )
    }
    this.#appleSecret =
      options.privateKey === undefined
        ? null
        : new AppleClientSecret(options.clientId, {
            teamId: String(options.teamId),
            keyId: String(options.keyId),
            privateKey: options.privateKey,
          })
    if (merged.responseMode !== undefined && !['query', 'form_post'].includes(merged.responseMode))
      fail(`${where}.responseMode`, "must be 'query' or 'form_post'")
    this.formPost = merged.responseMode === 'form_post'
    if (merged.scopes.length === 0) merged.scopes = this.#oidc ? ['openid', 'email'] : ['email']
    this.name = name
    this.redirectUri = redirectUri
    this.#options = merged
  }

  /** The provider's configuration: discovered once (again after a failure), or built from the endpoints. */
  async #configuration(): Promise<client.Configuration> {
    const client = await openIdClient()
    if (!this.#config) {
      const o = this.#options
      const apple = this.#appleSecret
      const auth: client.ClientAuth = apple
        ? // Apple takes the secret in the body; it is read at each request, so a renewed one is sent.
          (as, c, body, headers) => client.ClientSecretPost(apple.current())(as, c, body, headers)
        : o.clientSecret
          ? client.ClientSecretBasic(o.clientSecret)
          : client.None()
      const execute = o.allowInsecureRequests ? [client.allowInsecureRequests] : []
      const metadata = { client_id: o.clientId, redirect_uris: [this.redirectUri] }
      this.#config = this.#oidc
        ? client.discovery(new URL(String(o.issuer)), o.clientId, metadata, auth, { execute })
        : Promise.resolve(
            new client.Configuration(
              {
                issuer: new URL(String(o.authorizationEndpoint)).origin,
                authorization_endpoint: o.authorizationEndpoint,
                token_endpoint: o.tokenEndpoint,
              },
              o.clientId,
              metadata,
              auth,
            ),
          )
      if (!this.#oidc && o.allowInsecureRequests) {
        this.#config = this.#config.then((config) => {
          client.allowInsecureRequests(config)
          return config
        })
      }
      this.#config.catch(() => {
        this.#config = null
      })
    }
    return this.#config
  }

  /**
   * A fresh authorization URL and the secrets to keep for its callback.
   *
   * @example
   * ```ts
   * const { url, secrets } = await provider.authorizationUrl()
   * ```
   */
  async authorizationUrl(): Promise<{ url: URL; secrets: FlowSecrets }> {
    const client = await openIdClient()
    const config = await this.#configuration()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = this.#oidc ? client.randomNonce() : null
    const parameters: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: this.#options.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }
    if (nonce) parameters.nonce = nonce
    if (this.formPost) parameters.response_mode = 'form_post'
    return { url: client.buildAuthorizationUrl(config, parameters), secrets: { state, nonce, verifier } }
  }

  /**
   * Checks the callback (state, code exchange with the PKCE verifier, ID token and nonce) and returns the
   * identity. Any failure is an {@link OAuthCallbackError}.
   *
   * @example
   * ```ts
   * const identity = await provider.identity(new URL(request.url, base), secrets)
   * ```
   */
  async identity(callbackUrl: URL, secrets: FlowSecrets, tokensAt?: number): Promise<OAuthIdentity> {
    const client = await openIdClient()
    const config = await this.#configuration()
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: secrets.verifier,
        expectedState: secrets.state,
        ...(secrets.nonce ? { expectedNonce: secrets.nonce } : {}),
        idTokenExpected: this.#oidc,
      })
    } catch (err) {
      if (err instanceof client.AuthorizationResponseError) {
        throw new OAuthCallbackError(`the identity provider answered ${err.error}; start the sign-in again`, {
          cause: err,
        })
      }
      throw new OAuthCallbackError(undefined, { cause: err })
    }
    const identity = this.#oidc
      ? await this.#oidcIdentity(config, tokens)
      : await this.#profileIdentity(config, tokens.access_token)
    // Only when the application stores them (`storeTokens`, given the time they were received at).
    if (tokensAt !== undefined) {
      identity.tokens = {
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? null,
        expiresAt: typeof tokens.expires_in === 'number' ? tokensAt + tokens.expires_in * 1000 : null,
        scope: tokens.scope ?? null,
      }
    }
    return identity
  }

  async #oidcIdentity(
    config: client.Configuration,
    tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>,
  ): Promise<OAuthIdentity> {
    const client = await openIdClient()
    const claims = tokens.claims()
    if (!claims) throw new OAuthCallbackError('the identity provider sent no ID token')
    let email = claims.email
    let verified = claims.email_verified
    // Many providers put the email in the userinfo answer only; it is fetched for the same subject.
    if (typeof email !== 'string' && config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
        email = info.email
        verified = info.email_verified
      } catch (err) {
        throw new OAuthCallbackError('the identity provider did not answer with the profile', { cause: err })
      }
    }
    return {
      provider: this.name,
      subject: claims.sub,
      email: typeof email === 'string' ? email : null,
      // Only an explicit `true` counts: an absent claim (Microsoft sends none) is not a verification.
      emailVerified: verified === true,
    }
  }

  async #profileIdentity(config: client.Configuration, accessToken: string): Promise<OAuthIdentity> {
    const client = await openIdClient()
    const o = this.#options
    const get = async (url: string): Promise<unknown> => {
      try {
        const response = await client.fetchProtectedResource(
          config,
          accessToken,
          new URL(url),
          'GET',
          null,
          new Headers({ accept: 'application/json' }),
        )
        if (!response.ok) throw new Error(`${url} answered ${response.status}`)
        return await response.json()
      } catch (err) {
        throw new OAuthCallbackError('the identity provider did not answer with the profile', { cause: err })
      }
    }
    const profile = (await get(String(o.userinfoEndpoint))) as Record<string, unknown>
    const id = profile.sub ?? profile.id
    if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
      throw new OAuthCallbackError('the identity provider gave no user id')
    }
    let email: string | null = typeof profile.email === 'string' ? profile.email : null
    let emailVerified = profile.email_verified === true || profile.verified === true
    if (o.emailsEndpoint) {
      // GitHub's profile email is whatever the user made public, verified or not: the primary entry of
      // the emails list, with its own `verified` flag, is the one to trust.
      const list = await get(o.emailsEndpoint)
      const primary = Array.isArray(list)
        ? (list as Array<Record<string, unknown>>).find((entry) => entry.primary === true)
        : undefined
      email = typeof primary?.email === 'string' ? primary.email : null
      emailVerified = primary?.verified === true
    }
    return { provider: this.name, subject: String(id), email, emailVerified }
  }
}
