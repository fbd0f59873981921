/**
 * Security headers on the plugin's own answers, and on nothing else: helmet's headers set by an
 * `onRequest` hook inside the plugin's encapsulated contexts (the API routes, the docs UI, the pages),
 * never on the application's routes. Every answer of the API routes, errors and answers written by other
 * plugins' hooks (a rate limiter's 429) included, gets `Cache-Control: no-store`: they carry
 * credentials, personal data or one-time state.
 *
 * helmet computes the headers once per context, at registration: its middleware runs once against a
 * recorder, and each request then gets the recorded values through Fastify's own header map, so Node
 * checks each name and value once per answer (in `writeHead`) instead of twice. (`@fastify/helmet`, used
 * before, rebuilt the middleware for every request, parsing the policy each time, behind two async hooks:
 * about a tenth of the CPU time of a cached `GET /users/me`.) The headers do not depend on the request:
 * no option used here reads it (no CSP nonce).
 *
 * @module
 */
import type { FastifyInstance, FastifyPluginCallback, onSendHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

// A callback hook, not an async one: no promise per answer.
const noStore: onSendHookHandler = (_request, reply, payload, done) => {
  reply.header('cache-control', 'no-store')
  done(null, payload)
}

/** Where the headers go, and whether HTTPS is in use (HSTS is sent only then). */
export interface SecurityHeaderOptions {
  /** `true` when the application is served over HTTPS (the plugin's `cookie.secure`). */
  https: boolean
}

const common = (https: boolean): HelmetOptions => ({
  // Only the application knows whether every subdomain serves HTTPS, so no includeSubDomains/preload.
  strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: false } : false,
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginEmbedderPolicy: false,
  // Tokens and personal data are kept from other origins' `no-cors` loads.
  crossOriginResourcePolicy: { policy: 'same-origin' },
})

/**
 * The headers helmet's middleware writes for `options`, recorded from one run against a stand-in
 * response (it only calls `setHeader` and `removeHeader`, and reads nothing of the request here).
 */
function recordHelmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: unknown
  helmet(options)({} as never, response as never, (err?: unknown) => {
    failure = err
  })
  if (failure !== undefined) throw failure
  if (!headers['content-security-policy']) {
    throw new Error(
      'fastify-users: helmet wrote no Content-Security-Policy; the security headers are not as expected',
    )
  }
  return headers
}

/**
 * Sets helmet's headers for `options` on every request of the context it is registered in. A
 * fastify-plugin, so its hook lands in that context at the place the registration is processed, as
 * `@fastify/helmet`'s did.
 */
const helmetHeaders: FastifyPluginCallback<HelmetOptions> = fp(
  (scope, options, done) => {
    const headers = recordHelmetHeaders(options)
    scope.addHook('onRequest', (_request, reply, next) => {
      reply.headers(headers)
      next()
    })
    done()
  },
  { fastify: '5.x', name: 'fastify-users-security-headers' },
)

/**
 * The API routes: JSON only, so the strictest policy (nothing may load, nothing may frame them), and no
 * cache may keep any answer.
 */
export function apiSecurityHeaders(routes: FastifyInstance, options: SecurityHeaderOptions): void {
  routes.register(helmetHeaders, {
    ...common(options.https),
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
    },
  })
  // onSend, not onRequest: it also reaches answers sent by an earlier onRequest hook of another plugin.
  routes.addHook('onSend', noStore)
}

/**
 * The docs UI (Swagger UI) and the OpenAPI document: its scripts and styles come from the plugin's own
 * static files, so `'self'` is enough; Swagger UI sets inline style attributes and uses data: images.
 */
export function docsSecurityHeaders(docs: FastifyInstance, options: SecurityHeaderOptions): void {
  docs.register(helmetHeaders, {
    ...common(options.https),
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
      },
    },
  })
}

/**
 * The pages the mailed links open (`pages` option): the given policy (a same-origin script, no inline
 * code), no `Referer` ever (the address may carry a token), and no cache may keep them.
 *
 * @example
 * ```ts
 * pageSecurityHeaders(scope, { https: true, directives: { defaultSrc: ["'none'"], scriptSrc: ["'self'"] } })
 * ```
 */
export function pageSecurityHeaders(
  scope: FastifyInstance,
  options: SecurityHeaderOptions & { directives: Record<string, string[]> },
): void {
  // `frame-ancestors 'none'` in the policy forbids framing; helmet's X-Frame-Options stays for old browsers.
  scope.register(helmetHeaders, {
    ...common(options.https),
    contentSecurityPolicy: { useDefaults: false, directives: options.directives },
  })
  scope.addHook('onSend', noStore)
}
