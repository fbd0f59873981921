/**
 * How a request becomes an authenticated user: ask each configured backend in turn for the credential it
 * reads (the first that authenticates the request wins), remember the answer for the rest of the request.
 * Also the CSRF check of the cookie backends. The plugin installs one {@link RequestAuthenticator}; guards
 * and routes reach it through the instance.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  type ActiveCredential,
  type AuthBackend,
  authSchemeOf,
  type IssuedCredential,
  type RequestCredentials,
} from '../auth/auth-backend.js'
import { isSafeMethod, isSameOriginOrTrusted } from '../auth/origin-check.js'
import { type PublicUser, withoutSecrets } from '../core/public-user.js'
import type { BaseUser } from '../core/user.js'
import { CrossOriginError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { redactUrl } from './log-redaction.js'

/** The decorator name under which the plugin keeps its authenticator. */
export const AUTHENTICATOR = 'fastifyUsersAuth'

interface RequestState {
  user: PublicUser | null
  credential: ActiveCredential | null
  /** The backend that recognised the credential. */
  backend: AuthBackend | null
}

/**
 * The request property that holds what {@link RequestAuthenticator.authenticate} found (the plugin
 * declares it with `decorateRequest`, so every request has it from the start). A property, not a
 * `WeakMap` keyed by requests: every entry of a `WeakMap` is an ephemeron that V8's young-generation
 * collector keeps and promotes, and under load that was most of the old generation's growth and a
 * quarter of the CPU of a cached check.
 */
export const AUTH_STATE: unique symbol = Symbol('fastify-users.authState')

type StatefulRequest = FastifyRequest & { [AUTH_STATE]?: RequestState | null }

function stateOf(request: FastifyRequest): RequestState | null {
  return (request as StatefulRequest)[AUTH_STATE] ?? null
}

/** Authenticates requests with the configured backends, in order. */
export class RequestAuthenticator {
  /** The configured backends, in the order they are asked. */
  readonly backends: readonly AuthBackend[]
  /** The `WWW-Authenticate` challenge of a 401: the schemes of the configured backends. */
  readonly challenge: string
  readonly #usesCookies: boolean
  readonly #cookieBackends: number
  readonly #trustedOrigins: ReadonlySet<string>
  readonly #cookieOptions: { secure: boolean; sameSite: 'lax' | 'strict' }
  readonly #logger: Logger

  constructor(
    backends: readonly AuthBackend[],
    options: {
      trustedOrigins: ReadonlySet<string>
      secure: boolean
      sameSite: 'lax' | 'strict'
      logger: Logger
    },
  ) {
    if (backends.length === 0) throw new TypeError('fastify-users: at least one auth backend is needed')
    this.backends = backends
    this.challenge = [...new Set(backends.map(authSchemeOf))].join(', ')
    this.#cookieBackends = backends.filter((backend) => backend.cookieName !== null).length
    this.#usesCookies = this.#cookieBackends > 0
    this.#trustedOrigins = options.trustedOrigins
    this.#cookieOptions = { secure: options.secure, sameSite: options.sameSite }
    this.#logger = options.logger
  }

  /** The first backend: it answers at the login and logout paths of the `auth` route group. */
  get backend(): AuthBackend {
    return this.backends[0]!
  }

  /** What a backend (default: the first) reads from this request. */
  credentials(request: FastifyRequest, backend: AuthBackend = this.backend): RequestCredentials {
    const name = backend.cookieName
    return {
      authorization: request.headers.authorization,
      cookie: name ? request.cookies?.[name] : undefined,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
    }
  }

  /**
   * The request's user, or `null`; computed once per request, and set on `request.user`. The user comes
   * without its secrets (no `passwordHash`): application code that needs more asks the service.
   */
  async authenticate(request: FastifyRequest): Promise<PublicUser | null> {
    const known = this.peek(request)
    if (known !== undefined) return known
    for (const backend of this.backends) {
      const result = await backend.authenticate(this.credentials(request, backend))
      if (result) return this.#remember(request, result, backend)
    }
    return this.#remember(request, null, null)
  }

  /**
   * The request's user when it is known without waiting: already authenticated in this request, or
   * answered from memory by the backends, in order ({@link AuthBackend.peek}); `undefined` when only
   * {@link authenticate} can tell. The guards and the current user's route answer a cached credential
   * through it without a promise.
   */
  peek(request: FastifyRequest): PublicUser | null | undefined {
    const known = stateOf(request)
    if (known) return known.user
    for (const backend of this.backends) {
      // The first backend that recognises the credential wins, so an unknown answer ends the shortcut.
      const result = backend.peek?.(this.credentials(request, backend))
      if (result === undefined) return undefined
      if (result) return this.#remember(request, result, backend)
    }
    return this.#remember(request, null, null)
  }

  #remember(
    request: FastifyRequest,
    result: { user: BaseUser; credential: ActiveCredential } | null,
    backend: AuthBackend | null,
  ): PublicUser | null {
    const state: RequestState = result
      ? { user: withoutSecrets(result.user), credential: result.credential, backend }
      : { user: null, credential: null, backend: null }
    ;(request as StatefulRequest)[AUTH_STATE] = state
    request.user = state.user
    return state.user
  }

  /** The credential the request was authenticated with (after {@link authenticate}). */
  credential(request: FastifyRequest): ActiveCredential | null {
    return stateOf(request)?.credential ?? null
  }

  /** The backend that recognised the request's credential (after {@link authenticate}), or `null`. */
  backendOf(request: FastifyRequest): AuthBackend | null {
    return stateOf(request)?.backend ?? null
  }

  /**
   * Refuses a cross-site state-changing request when any configured backend uses a cookie (Bearer tokens
   * are not sent by browsers on their own, so a Bearer-only setup needs no such check). Throws
   * {@link CrossOriginError}.
   */
  checkOrigin(request: FastifyRequest): void {
    // A safe method passes whatever its headers say: the common case returns before reading them.
    if (!this.#usesCookies || isSafeMethod(request.method)) return
    const header = (name: string): string | undefined => {
      const value = request.headers[name]
      return Array.isArray(value) ? value[0] : value
    }
    const ok = isSameOriginOrTrusted(
      {
        method: request.method,
        secFetchSite: header('sec-fetch-site'),
        origin: header('origin'),
        host: header('host'),
      },
      this.#trustedOrigins,
    )
    if (!ok) {
      this.#logger.warn(
        { event: 'malicious_csrf', origin: header('origin') ?? null, url: redactUrl(request.url) },
        'cross-origin request refused',
      )
      throw new CrossOriginError()
    }
  }

  /** Sets the cookie of an issued credential, if it has one. */
  applyCredential(reply: FastifyReply, issued: IssuedCredential): void {
    if (!issued.cookie) return
    reply.setCookie(issued.cookie.name, issued.cookie.value, {
      httpOnly: true,
      secure: this.#cookieOptions.secure,
      sameSite: this.#cookieOptions.sameSite,
      path: '/',
      maxAge: issued.cookie.maxAgeSeconds,
    })
  }

  /**
   * Clears a backend's (default: the first) cookie and, when it is the only cookie backend, asks the
   * browser to drop its cookies for this site.
   */
  clearCredential(reply: FastifyReply, backend: AuthBackend = this.backend): void {
    const name = backend.cookieName
    if (!name) return
    reply.clearCookie(name, {
      httpOnly: true,
      secure: this.#cookieOptions.secure,
      sameSite: this.#cookieOptions.sameSite,
      path: '/',
    })
    // Clear-Site-Data drops every cookie of the site: with a second cookie backend it would also end that
    // backend's credential in this browser, which a logout of one backend must not do.
    if (this.#cookieBackends === 1) reply.header('clear-site-data', '"cookies"')
  }
}

/** The plugin's authenticator on an instance; throws a clear error when the plugin is not registered. */
export function authenticatorOf(instance: FastifyInstance): RequestAuthenticator {
  const authenticator = (instance as unknown as Record<string, unknown>)[AUTHENTICATOR]
  if (!(authenticator instanceof RequestAuthenticator)) {
    throw new Error('fastify-users: register the fastify-users plugin before using its guards')
  }
  return authenticator
}
