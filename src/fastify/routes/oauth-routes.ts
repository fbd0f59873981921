/**
 * Sign-in with identity providers: `GET /oauth/:provider/authorize` and `GET /oauth/:provider/callback`,
 * and, under the current user's path, link (`POST /users/me/oauth/:provider/link`), list
 * (`GET /users/me/oauth`) and unlink (`DELETE /users/me/oauth/:provider`).
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AuthBackend } from '../../auth/auth-backend.js'
import type { Id } from '../../core/user.js'
import { OAuthCallbackError } from '../../kernel/account-errors.js'
import {
  InvalidCredentialsError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import { FLOW_LIFETIME_MS, FlowSealer, type FlowState } from '../oauth/flow-cookie.js'
import { type OAuthOptions, OAuthProvider } from '../oauth/providers.js'
import { resolvePages } from '../pages.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'
import { issueCredential, secondStepOf } from './two-factor-routes.js'

/** The name of the flow cookie. */
export const FLOW_COOKIE = 'fastify-users-oauth'

const ProviderParams = Type.Object(
  {
    provider: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'The provider, as configured.' }),
  },
  { additionalProperties: false },
)
const Redirect = { type: 'null', description: 'A redirect; see `Location`.' } as const

/** The fields of a form-POSTed answer that the GET callback reads. */
const FORWARDED_FIELDS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'] as const

/** What the routes need beyond the route context. */
export interface OAuthRouteSetup {
  /** The prefix the plugin is registered under, for the redirect URIs and the cookie's path. */
  prefix: string
  /** The plugin's `secret` (first of a list), when it has one. */
  secret: string | undefined
  /** The plugin's `mail.baseUrl`, the default public origin. */
  baseUrl: string | undefined
  /** The current-user path (`/users/me`). */
  mePath: string
}

/**
 * Registers the provider routes. Misconfiguration throws `TypeError` at registration.
 *
 * @example
 * ```ts
 * oauthRoutes(routes, context, options.oauth, { prefix: fastify.prefix, secret, baseUrl, mePath: '/users/me' })
 * ```
 */
export function oauthRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  options: OAuthOptions,
  setup: OAuthRouteSetup,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, security } = context
  const fail = (option: string, fix: string): never => {
    throw new TypeError(`fastify-users: option \`${option}\` ${fix}`)
  }
  if (typeof options !== 'object' || options === null || typeof options.providers !== 'object') {
    fail('oauth.providers', 'is required: { google: { clientId, clientSecret } }')
  }
  // Refused here rather than by a 500 at the first sign-in: only a service the application built can lack it.
  if (Object.keys(options.providers).length > 0 && !service.oauth.hasRepository) {
    fail(
      'oauthAccountRepository',
      'is required by `oauth.providers`: give it to the service (createKyselyRepositories(db) has one)',
    )
  }
  const baseUrl = (
    options.baseUrl ??
    setup.baseUrl ??
    fail('oauth.baseUrl', "is required: the app's public origin")
  ).replace(/\/+$/, '')
  const secret =
    options.secret ?? setup.secret ?? fail('oauth.secret', 'is required with a constructed `service`')
  const sealer = new FlowSealer(secret)
  const allowList = options.redirectAllowList ?? ['/']
  if (!Array.isArray(allowList) || allowList.length === 0)
    fail('oauth.redirectAllowList', 'must list at least one target')
  // The callback ends with the app's usual credential; only a cookie can ride on a redirect.
  const backend: AuthBackend =
    auth.backends.find((b) => b.cookieName !== null) ??
    fail(
      'oauth',
      'needs a cookie backend (session or jwt-cookie): a Bearer token cannot be handed over by a redirect',
    )
  const loginPage = resolvePages(context.options.pages)?.login?.path
  /**
   * Where a sign-in that still needs the second step goes: the plugin's login page when it is on (it
   * completes the step, then goes on to the target), else the target itself. The challenge rides in the
   * fragment, which is never sent to a server nor in a `Referer`; it is single-use, short-lived, bound to
   * this backend, and worth nothing without the second factor.
   */
  const secondStepTarget = (redirectTo: string, challenge: string, methods: readonly string[]) => {
    const fragment = new URLSearchParams({ mfaChallenge: challenge, methods: methods.join(',') })
    const target = redirectTo.split('#')[0] ?? redirectTo
    const page =
      loginPage === undefined
        ? target
        : `${setup.prefix}${loginPage}?${new URLSearchParams({ redirectTo: target })}`
    return `${page}#${fragment}`
  }
  const providers = new Map<string, OAuthProvider>()
  for (const [name, provider] of Object.entries(options.providers)) {
    providers.set(name, new OAuthProvider(name, provider, `${baseUrl}${setup.prefix}/oauth/${name}/callback`))
  }
  const cookiePath = `${setup.prefix}/oauth/`
  const tags = ['identity providers']

  const providerOf = (name: string): OAuthProvider => {
    const provider = providers.get(name)
    if (!provider) throw new NotFoundError('user', `no identity provider named ${name}`)
    return provider
  }
  const target = (redirectTo: string | undefined): string => {
    if (redirectTo === undefined) return allowList[0]!
    if (!allowList.includes(redirectTo)) {
      throw new ValidationError('redirectTo', 'redirectTo is not one of the allowed targets')
    }
    return redirectTo
  }
  const start = async (
    reply: FastifyReply,
    provider: OAuthProvider,
    redirectTo: string,
    linkUserId: Id | null,
    status: 302 | 303,
  ) => {
    const { url, secrets } = await provider.authorizationUrl()
    const flow: FlowState = {
      provider: provider.name,
      ...secrets,
      redirectTo,
      linkUserId,
      expiresAt: service.clock.now() + FLOW_LIFETIME_MS,
    }
    reply.setCookie(FLOW_COOKIE, sealer.seal(flow), {
      httpOnly: true,
      secure: context.resolved.cookieSecure,
      // Lax, whatever the session cookie's setting: the provider sends the browser back cross-site.
      sameSite: 'lax',
      path: cookiePath,
      maxAge: FLOW_LIFETIME_MS / 1000,
    })
    return reply.redirect(url.href, status)
  }

  app.get(
    '/oauth/:provider/authorize',
    {
      schema: {
        tags,
        operationId: 'oauthAuthorize',
        summary: 'Sign in with an identity provider',
        description:
          'Redirects to the provider with a fresh `state`, `nonce` and PKCE (S256) challenge, kept in a sealed, HttpOnly, 10-minute cookie bound to this browser. `redirectTo` must be one of the allowed targets.',
        params: ProviderParams,
        querystring: Type.Object(
          { redirectTo: Type.Optional(Type.String({ maxLength: 2048 })) },
          { additionalProperties: false },
        ),
        response: { 302: Redirect },
      },
    },
    async (request, reply) => {
      const provider = providerOf(request.params.provider)
      return start(reply, provider, target(request.query.redirectTo), null, 302)
    },
  )

  app.get(
    '/oauth/:provider/callback',
    {
      schema: {
        tags,
        operationId: 'oauthCallback',
        summary: "The identity provider's answer",
        description:
          "Checks the answer (state, PKCE, ID token and nonce), then logs the user in with the app's cookie credential, or links the provider to the user who asked, and redirects to the target chosen at the start. A new identity creates an account (verified only when the provider verified the email); an identity whose email an account holds is linked only when the provider verified the email and the account is verified, otherwise 409 `ERR_OAUTH_LINK_REQUIRED`. With two-factor on, an account with a second factor gets no credential: the redirect carries `#mfaChallenge=<challenge>&methods=...` in its fragment (to the login page when `pages.login` is on), for the second step at `POST /login/2fa`.",
        params: ProviderParams,
        response: { 303: Redirect },
      },
    },
    async (request, reply) => {
      const provider = providerOf(request.params.provider)
      const flow = openFlow(request, reply)
      if (flow.provider !== provider.name) throw new OAuthCallbackError()
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : ''
      const identity = await provider.identity(
        new URL(`${provider.redirectUri}${query}`),
        flow,
        options.storeTokens === true ? service.clock.now() : undefined,
      )
      if (flow.linkUserId !== null) {
        // The same browser must still be logged in as the user who asked to link.
        const user = await auth.authenticate(request)
        if (!user || String(user.id) !== String(flow.linkUserId)) throw new UnauthenticatedError()
        await service.oauth.link(user.id, identity, request)
        return reply.redirect(flow.redirectTo, 303)
      }
      const user = await service.oauth.signIn(identity, request)
      if (!user) throw new InvalidCredentialsError()
      // The provider proves the first factor only: an account with a second factor still answers it, as
      // after a password, so linking a provider can never become a way around TOTP or a passkey.
      const step = await secondStepOf(context, backend, user)
      if (step) return reply.redirect(secondStepTarget(flow.redirectTo, step.challenge, step.methods), 303)
      await issueCredential(context, backend, user, 'oauth', request, reply)
      return reply.redirect(flow.redirectTo, 303)
    },
  )

  // A provider answering with `response_mode=form_post` (Apple) POSTs the answer from its own site. The
  // flow cookie (SameSite=Lax) and the session cookie do not ride on a cross-site POST, so this route checks
  // nothing and changes nothing: it moves the answer's fields to the query and sends the browser (303) to
  // the GET callback above, a top-level navigation on which the Lax cookies are sent and every check runs.
  // It is exempt from the origin check for that reason (route config `crossSiteForm`).
  const formPostProviders = [...providers.values()].filter((provider) => provider.formPost)
  if (formPostProviders.length > 0) {
    instance.register((scope, _opts, done) => {
      scope.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 16 * 1024 },
        (_request, body, parsed) => parsed(null, Object.fromEntries(new URLSearchParams(String(body)))),
      )
      scope.withTypeProvider<TypeBoxTypeProvider>().post(
        '/oauth/:provider/callback',
        {
          config: { crossSiteForm: true },
          schema: {
            tags,
            operationId: 'oauthFormPostCallback',
            summary: "The identity provider's answer, as a form POST",
            description:
              "For providers that answer with `response_mode=form_post` (Apple). Redirects (303) to `GET /oauth/:provider/callback` with `code`, `state`, `iss` and any `error` as query parameters, where the flow cookie is read and every check runs; other fields (Apple's `user`) are dropped.",
            params: ProviderParams,
            body: Type.Record(Type.String(), Type.String()),
            response: { 303: Redirect },
          },
        },
        async (request, reply) => {
          const provider = providerOf(request.params.provider)
          if (!provider.formPost) throw new NotFoundError('user', `${provider.name} does not answer by form`)
          const query = new URLSearchParams()
          for (const field of FORWARDED_FIELDS) {
            const value = request.body[field]
            if (typeof value === 'string') query.set(field, value)
          }
          return reply.redirect(`${setup.prefix}/oauth/${provider.name}/callback?${query}`, 303)
        },
      )
      done()
    })
  }

  const openFlow = (request: FastifyRequest, reply: FastifyReply): FlowState => {
    const value = request.cookies?.[FLOW_COOKIE]
    // One use: cleared whatever the outcome, so a callback URL cannot be replayed with the same cookie.
    reply.clearCookie(FLOW_COOKIE, {
      path: cookiePath,
      httpOnly: true,
      secure: context.resolved.cookieSecure,
      sameSite: 'lax',
    })
    const flow = value ? sealer.open(value) : null
    if (!flow || flow.expiresAt <= service.clock.now()) throw new OAuthCallbackError()
    return flow
  }

  app.post(
    `${setup.mePath}/oauth/:provider/link`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'linkOAuthAccount',
        summary: 'Link an identity provider to the current user',
        description:
          "Redirects (303) to the provider; its callback links the identity to this user, if the same browser is still logged in as them. A POST so that the origin check guards it: a cross-site page cannot link an attacker's provider account to the victim's. `redirectTo` (query) must be one of the allowed targets.",
        security,
        params: ProviderParams,
        querystring: Type.Object(
          { redirectTo: Type.Optional(Type.String({ maxLength: 2048 })) },
          { additionalProperties: false },
        ),
        response: { 303: Redirect },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      const provider = providerOf(request.params.provider)
      return start(reply, provider, target(request.query.redirectTo), user.id, 303)
    },
  )

  app.get(
    `${setup.mePath}/oauth`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'listLinkedAccounts',
        summary: "The current user's linked identity providers",
        security,
        response: {
          200: Type.Array(
            Type.Object({
              provider: Type.String(),
              subject: Type.String(),
              email: Type.Union([Type.String(), Type.Null()]),
              createdAt: Type.Number({ description: 'Epoch milliseconds.' }),
            }),
          ),
        },
      },
    },
    async (request) => {
      const user = await currentUser(context, request)
      return service.oauth.list(user.id)
    },
  )

  app.delete(
    `${setup.mePath}/oauth/:provider`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'unlinkOAuthAccount',
        summary: 'Unlink an identity provider',
        description:
          'Refused with 409 `ERR_LAST_LOGIN_METHOD` when it is the last way to log in (no password, no other provider, and no passkey when passkeys are on); set a password through the reset flow, or add a passkey, first.',
        security,
        params: ProviderParams,
        response: { 204: { type: 'null', description: 'Unlinked.' } },
      },
    },
    async (request, reply) => {
      const user = await currentUser(context, request)
      await service.oauth.unlink(user.id, request.params.provider)
      return noContent(reply)
    },
  )
}
