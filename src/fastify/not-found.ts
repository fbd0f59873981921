/**
 * Problem answers for requests Fastify's router cannot place, under the plugin's paths: a known path with
 * another method answers 405 with `Allow`, an unknown path under one of the plugin's top-level segments
 * (`/users/...`, `/verify/...`) 404, both `application/problem+json`. Fastify's own 404 is left to the
 * application everywhere else, except when the URL carries a secret query parameter: Fastify's default
 * 404 writes the raw URL into its log line, so such a request is answered here instead.
 *
 * A root `onRequest` hook rather than `setNotFoundHandler`: Fastify allows one not-found handler per
 * prefix, so taking the root one would make the application's own call fail.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { MethodNotAllowedError, RouteNotFoundError } from '../kernel/errors.js'
import { problemFromError, sendProblem } from './error-handler.js'
import { redactUrl } from './log-redaction.js'

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The paths and methods of the plugin's routes, to tell a wrong method from an unknown path. */
export class PluginPaths {
  readonly #routes = new Map<string, { pattern: RegExp; methods: Set<string> }>()
  readonly #segments = new Set<string>()

  /** Records a route of the plugin (`/users/:id`, `/docs/*`). */
  add(url: string, method: string | readonly string[]): void {
    let entry = this.#routes.get(url)
    if (!entry) {
      const source = url
        .split('/')
        .map((part) =>
          part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : escapeRegExp(part.replace(/\*$/, '')),
        )
        .join('/')
      entry = { pattern: new RegExp(`^${source}/?$`), methods: new Set() }
      this.#routes.set(url, entry)
      const first = url.split('/')[1]
      if (first && !first.startsWith(':') && first !== '*') this.#segments.add(first)
    }
    for (const m of typeof method === 'string' ? [method] : method) entry.methods.add(m.toUpperCase())
  }

  /** The methods a path has (with `HEAD` where there is `GET`), or `null` when no route has the path. */
  allowed(path: string): string[] | null {
    const methods = new Set<string>()
    for (const { pattern, methods: own } of this.#routes.values()) {
      if (pattern.test(path)) for (const m of own) methods.add(m)
    }
    if (methods.size === 0) return null
    if (methods.has('GET')) methods.add('HEAD')
    return [...methods].sort()
  }

  /** Whether a path lies under one of the plugin's top-level segments. */
  owns(path: string): boolean {
    const first = path.split('/')[1]
    return first !== undefined && this.#segments.has(first)
  }
}

const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  const raw = end === -1 ? url : url.slice(0, end)
  try {
    return decodeURI(raw)
  } catch {
    return raw
  }
}

/** Answers a request the router did not match, when it belongs to the plugin; otherwise does nothing. */
export function answerUnmatched(paths: PluginPaths, request: FastifyRequest, reply: FastifyReply): boolean {
  const path = pathOf(request.url)
  const allow = paths.allowed(path)
  let error: MethodNotAllowedError | RouteNotFoundError | undefined
  if (allow) error = new MethodNotAllowedError(request.method, allow)
  else if (paths.owns(path) || redactUrl(request.url) !== request.url) error = new RouteNotFoundError()
  if (!error) return false
  request.log.info({ event: 'route_not_found', status: allow ? 405 : 404 }, 'no such route')
  sendProblem(reply, error)
  return true
}

/** Installs the root hook that answers unmatched requests under the plugin's paths. */
export function installNotFound(fastify: FastifyInstance, paths: PluginPaths): void {
  // Callback hooks, here and below: they run on every request of the application, and an async hook
  // costs a promise and a microtask each time.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.is404 && answerUnmatched(paths, request, reply)) return
    done()
  })
}

/**
 * The last line of "every answer under the plugin's paths is problem+json": an error answer that another
 * plugin wrote there by itself (Swagger UI's file server answers a missing or forbidden file in Fastify's
 * plain JSON, through handlers no hook of ours precedes) is rewritten into a problem of the same status.
 * Answers under 400, answers already in problem+json, and the application's own paths pass untouched.
 *
 * @example
 * ```ts
 * installProblemAnswers(fastify, pluginPaths) // GET /docs/static/missing.js -> 404 application/problem+json
 * ```
 */
export function installProblemAnswers(fastify: FastifyInstance, paths: PluginPaths): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    done(null, reply.statusCode < 400 ? payload : asProblem(paths, request, reply, payload))
  })
}

/** The body of an error answer under the plugin's paths, as problem+json (see installProblemAnswers). */
function asProblem(
  paths: PluginPaths,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): unknown {
  if (String(reply.getHeader('content-type') ?? '').startsWith('application/problem+json')) return payload
  if (!paths.owns(pathOf(request.url))) return payload
  const error =
    reply.statusCode === 404
      ? new RouteNotFoundError()
      : { statusCode: reply.statusCode, code: reply.statusCode < 500 ? 'ERR_BAD_REQUEST' : undefined }
  const body = problemFromError(error)
  // The other plugin's length and type described its own body.
  reply.removeHeader('content-length')
  reply.header('cache-control', 'no-store')
  reply.type('application/problem+json; charset=utf-8')
  return JSON.stringify(body)
}
