/**
 * Keeps secrets that arrive in a URL's query string out of the request log. Mailed links carry their token
 * in the fragment (never sent to a server), but an old link, a hand-made request or a client that puts a
 * token in `?token=` would otherwise have it written by Fastify's `incoming request` line, at `info` level,
 * where anyone with read access to the logs could redeem it.
 *
 * The plugin applies this itself, whatever logger the application configured: on its own routes through
 * the route's `logSerializers`, on the routes registered after it through Fastify's child logger factory,
 * and for every request (earlier routes, 404s) by wrapping the `req` serializer of Fastify's pino root
 * logger through `pino.symbols`. Applications can also pass {@link fastifyUsersLogSerializers} to Fastify
 * themselves.
 *
 * @module
 */
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * Query parameters whose values are replaced by `[REDACTED]` in logged URLs (compared case-insensitively,
 * after percent-decoding the name).
 */
export const SECRET_QUERY_PARAMETERS: readonly string[] = [
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'password',
  'secret',
  'code',
  'api_key',
  'apikey',
]

/** What replaces a secret value. */
export const REDACTED = '[REDACTED]'

const decodeName = (raw: string): string => {
  const plus = raw.replaceAll('+', ' ')
  try {
    return decodeURIComponent(plus).toLowerCase()
  } catch {
    return plus.toLowerCase()
  }
}

/**
 * A URL (or path with query) with the values of secret query parameters replaced by `[REDACTED]`; the
 * rest of the URL is left byte for byte as it was.
 *
 * @param url - a request URL such as `/verify?token=abc&x=1`
 * @param names - parameter names to redact. Default: {@link SECRET_QUERY_PARAMETERS}.
 *
 * @example
 * ```ts
 * redactUrl('/verify?token=abc&lang=en') // '/verify?token=[REDACTED]&lang=en'
 * ```
 */
export function redactUrl(url: string, names: readonly string[] = SECRET_QUERY_PARAMETERS): string {
  // Browsers never send a fragment; a client that does may have put a token there.
  const hash = url.indexOf('#')
  const fragment = hash === -1 ? '' : `#${REDACTED}`
  const base = hash === -1 ? url : url.slice(0, hash)
  const start = base.indexOf('?')
  if (start === -1) return `${base}${fragment}`
  const secret = new Set(names.map((n) => n.toLowerCase()))
  const query = base
    .slice(start + 1)
    .split(/([&;])/)
    .map((part) => {
      if (part === '&' || part === ';') return part
      const eq = part.indexOf('=')
      const name = eq === -1 ? part : part.slice(0, eq)
      // `token[]=x`, `token[0]=x`: the same secret under a bracketed name.
      const bare = decodeName(name).replace(/\[.*$/, '')
      return secret.has(bare) && eq !== -1 ? `${name}=${REDACTED}` : part
    })
    .join('')
  return `${base.slice(0, start + 1)}${query}${fragment}`
}

type ReqSerializer = (request: FastifyRequest) => { [key: string]: unknown; url?: string }

/** Fastify's own `req` serializer, with the URL redacted. */
function defaultReqSerializer(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket ? request.socket.remotePort : undefined,
  }
}

const REDACTING = Symbol('fastify-users.redacting')

/** Wraps a `req` serializer so that whatever it returns has its `url` redacted. */
function redactingReqSerializer(inner: ReqSerializer = defaultReqSerializer): ReqSerializer {
  if ((inner as { [REDACTING]?: boolean })[REDACTING]) return inner
  const wrapped: ReqSerializer = (request) => {
    const out = inner(request)
    if (out && typeof out === 'object' && typeof out.url === 'string')
      return { ...out, url: redactUrl(out.url) }
    return out
  }
  Object.defineProperty(wrapped, REDACTING, { value: true })
  return wrapped
}

/**
 * Log serializers for `Fastify({ logger: { serializers: fastifyUsersLogSerializers } })`: Fastify's usual
 * `req` fields, with secret query parameters redacted. The plugin redacts on its own without them; pass
 * them when the application builds its logger itself, to have the same rule from the first log line.
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: { level: 'info', serializers: fastifyUsersLogSerializers } })
 * ```
 */
export const fastifyUsersLogSerializers: { req: ReqSerializer } = {
  req: redactingReqSerializer(),
}

type ChildLoggerFactory = FastifyInstance['childLoggerFactory']

// The symbol under which pino keeps a logger's serializers, from pino's documented integration API
// (`pino.symbols`, "for library implementers"), taken from the pino that Fastify itself loads, which is the
// one that built `fastify.log` unless the application brought a logger of its own.
function pinoSerializersSymbol(): symbol | undefined {
  try {
    const fastifyMain = createRequire(import.meta.url).resolve('fastify')
    const pino = createRequire(fastifyMain)('pino') as { symbols?: { serializersSym?: unknown } }
    const sym = pino.symbols?.serializersSym
    return typeof sym === 'symbol' ? sym : undefined
  } catch {
    return undefined
  }
}

/**
 * Makes every request log line of the instance carry redacted URLs, through two documented interfaces:
 * - Fastify's child logger factory (`setChildLoggerFactory`): each request's logger of the plugin's routes
 *   and of every route registered after the plugin gets a redacting `req` serializer, with any logger;
 * - when `fastify.log` is Fastify's pino, its root `req` serializer is wrapped through `pino.symbols`, so
 *   the routes registered before the plugin and Fastify's default 404 are covered too, and an
 *   application's own `req` serializer keeps its fields (with the URL redacted).
 *
 * Returns the `req` serializer to set on the plugin's own routes (their `logSerializers`).
 */
export function installLogRedaction(fastify: FastifyInstance): ReqSerializer {
  const sym = pinoSerializersSymbol()
  const root = sym
    ? (fastify.log as unknown as Record<symbol, Record<string, ReqSerializer> | undefined>)[sym]
    : undefined
  // Every request's logger made without serializers of its own shares this object.
  if (root) root.req = redactingReqSerializer(root.req)
  const previous: ChildLoggerFactory = fastify.childLoggerFactory
  fastify.setChildLoggerFactory(function redactingChildLogger(logger, bindings, options, rawRequest) {
    const own = options.serializers?.req as ReqSerializer | undefined
    // A route's own `req` serializer replaces the root's: redact it; else the root's already redacts.
    if (root && !own) return previous.call(this, logger, bindings, options, rawRequest)
    const serializers = { ...options.serializers, req: redactingReqSerializer(own) }
    return previous.call(this, logger, bindings, { ...options, serializers }, rawRequest)
  })
  return root?.req ?? fastifyUsersLogSerializers.req
}
