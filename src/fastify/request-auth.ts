/**
 * How a request becomes an authenticated user: read the backend's credential from the headers, ask the
 * backend, remember the answer for the rest of the request. Also the CSRF check of the cookie backends.
 * The plugin installs one {@link RequestAuthenticator}; guards and routes reach it through the instance.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type {
  ActiveCredential,
  AuthBackend,
  IssuedCredential,
  RequestCredentials,
} from '../auth/auth-backend.js'
import { isSameOriginOrTrusted } from '../auth/origin-check.js'
import { type PublicUser, withoutSecrets } from '../core/public-user.js'
import { CrossOriginError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { redactUrl } from './log-redaction.js'

/** The decorator name under which the plugin keeps its authenticator. */
export const AUTHENTICATOR = 'fastifyUsersAuth'

interface RequestState {
  done: boolean
  user: PublicUser | null
  credential: ActiveCredential | null
}

/** Authenticates requests with the configured backend. */
export class RequestAuthenticator {
  readonly backend: AuthBackend
  readonly #trustedOrigins: ReadonlySet<string>
  readonly #cookieOptions: { secure: boolean; sameSite: 'lax' | 'strict' }
  readonly #logger: Logger
  readonly #states = new WeakMap<FastifyRequest, RequestState>()

  constructor(
    backend: AuthBackend,
    options: {
      trustedOrigins: ReadonlySet<string>
      secure: boolean
      sameSite: 'lax' | 'strict'
      logger: Logger
    },
  ) {
    this.backend = backend
    this.#trustedOrigins = options.trustedOrigins
    this.#cookieOptions = { secure: options.secure, sameSite: options.sameSite }
    this.#logger = options.logger
  }

  /** What the backend reads from this request. */
  credentials(request: FastifyRequest): RequestCredentials {
    const name = this.backend.cookieName
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
    const known = this.#states.get(request)
    if (known?.done) return known.user
    const result = await this.backend.authenticate(this.credentials(request))
    const state: RequestState = {
      done: true,
      user: result ? withoutSecrets(result.user) : null,
      credential: result?.credential ?? null,
    }
    this.#states.set(request, state)
    request.user = state.user
    return state.user
  }

  /** The credential the request was authenticated with (after {@link authenticate}). */
  credential(request: FastifyRequest): ActiveCredential | null {
    return this.#states.get(request)?.credential ?? null
  }

  /**
   * Refuses a cross-site state-changing request on the cookie backends (Bearer tokens are not sent
   * by browsers on their own, so they need no such check). Throws {@link CrossOriginError}.
   */
  checkOrigin(request: FastifyRequest): void {
    if (!this.backend.cookieName) return
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

  /** Clears the backend's cookie and asks the browser to drop its cookies for this site. */
  clearCredential(reply: FastifyReply): void {
    const name = this.backend.cookieName
    if (!name) return
    reply.clearCookie(name, {
      httpOnly: true,
      secure: this.#cookieOptions.secure,
      sameSite: this.#cookieOptions.sameSite,
      path: '/',
    })
    reply.header('clear-site-data', '"cookies"')
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
