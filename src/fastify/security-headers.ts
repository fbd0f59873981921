/**
 * Security headers on the plugin's own answers, and on nothing else: `@fastify/helmet` registered inside
 * the plugin's encapsulated contexts (the API routes, the docs UI), never on the application's routes.
 * Every answer of the API routes, errors and answers written by other plugins' hooks (a rate limiter's
 * 429) included, gets `Cache-Control: no-store`: they carry credentials, personal data or one-time state.
 *
 * @module
 */
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

/** Where the headers go, and whether HTTPS is in use (HSTS is sent only then). */
export interface SecurityHeaderOptions {
  /** `true` when the application is served over HTTPS (the plugin's `cookie.secure`). */
  https: boolean
}

const common = (https: boolean): FastifyHelmetOptions => ({
  // Only the application knows whether every subdomain serves HTTPS, so no includeSubDomains/preload.
  strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: false } : false,
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginEmbedderPolicy: false,
  // Tokens and personal data are kept from other origins' `no-cors` loads.
  crossOriginResourcePolicy: { policy: 'same-origin' },
})

/**
 * The API routes: JSON only, so the strictest policy (nothing may load, nothing may frame them), and no
 * cache may keep any answer.
 */
export function apiSecurityHeaders(routes: FastifyInstance, options: SecurityHeaderOptions): void {
  routes.register(fastifyHelmet, {
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
  routes.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store')
    return payload
  })
}

/**
 * The docs UI (Swagger UI) and the OpenAPI document: its scripts and styles come from the plugin's own
 * static files, so `'self'` is enough; Swagger UI sets inline style attributes and uses data: images.
 */
export function docsSecurityHeaders(docs: FastifyInstance, options: SecurityHeaderOptions): void {
  docs.register(fastifyHelmet, {
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
  scope.register(fastifyHelmet, {
    ...common(options.https),
    contentSecurityPolicy: { useDefaults: false, directives: options.directives },
  })
  scope.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store')
    return payload
  })
}
