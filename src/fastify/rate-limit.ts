/**
 * Per-IP rate limits on the plugin's public routes, with `@fastify/rate-limit`. Every route the plugin
 * declares without an authentication guard is limited, in one of five groups that share a count per
 * client address: `login`, `register`, `verification`, `passwordReset`, and `public` for any other public
 * route (so a new public route is limited by default). A route can pick its group, or opt out, with the
 * route config `rateLimitGroup`.
 *
 * The key is `request.ip`: behind a proxy, set Fastify's `trustProxy` to the proxies' addresses (never
 * `true`, which lets any client choose its address with `X-Forwarded-For`). IPv6 clients are counted per
 * /64, the smallest block one subscriber usually gets. Counts live in memory by default; pass an ioredis
 * client (`rateLimit: { redis }`) to share them between instances.
 *
 * @module
 */
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify'
import { DatabaseUnavailableError, RateLimitedError } from '../kernel/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The per-IP rate-limit group of a route of the `fastify-users` plugin, or `false` for none. Default:
     * the group of the route's path for public routes (`'public'` for others), none for guarded routes.
     */
    rateLimitGroup?: RateLimitGroup | false
  }
}

/** The groups of public routes; each has its own limit and its own count per client address. */
export type RateLimitGroup = 'login' | 'register' | 'verification' | 'passwordReset' | 'public'

/** One group's limit: at most `max` requests per `windowSeconds` from one address. */
export interface RateLimitRule {
  max: number
  windowSeconds: number
}

/** The `rateLimit` option of the plugin. */
export interface RateLimitOptions {
  /**
   * An ioredis client (or cluster) to keep the counts in, shared by every instance. Default: none (each
   * instance counts in its own memory, so N instances allow N times the limit).
   */
  // biome-ignore lint/suspicious/noExplicitAny: @fastify/rate-limit types its `redis` option as any.
  redis?: any
  /** The Redis key prefix. Default: `'fastify-users-rate-limit:'`. */
  nameSpace?: string
  /** Limits per group; `false` turns one group off. Defaults: see {@link defaultRateLimits}. */
  groups?: Partial<Record<RateLimitGroup, RateLimitRule | false>>
}

/**
 * The default limits, per client address: generous for a person (and for a few people behind one NAT),
 * far too slow for password guessing, account creation in bulk or mail flooding. The per-identifier login
 * throttle and the per-address mail cap apply besides these.
 */
export const defaultRateLimits: Readonly<Record<RateLimitGroup, RateLimitRule>> = {
  login: { max: 20, windowSeconds: 60 },
  register: { max: 10, windowSeconds: 60 },
  verification: { max: 20, windowSeconds: 60 },
  passwordReset: { max: 10, windowSeconds: 60 },
  public: { max: 30, windowSeconds: 60 },
}

const GROUPS = Object.keys(defaultRateLimits) as RateLimitGroup[]

/** The limits as resolved from the option; `null` when rate limiting is off. */
export type ResolvedRateLimits = {
  rules: Record<RateLimitGroup, RateLimitRule | false>
  redis: RateLimitOptions['redis']
  nameSpace: string
} | null

/**
 * Checks the `rateLimit` option. Throws `TypeError` naming the option on misuse.
 *
 * @example
 * ```ts
 * resolveRateLimits({ groups: { login: { max: 5, windowSeconds: 60 } } }).rules.login // { max: 5, ... }
 * ```
 */
export function resolveRateLimits(option: RateLimitOptions | false | undefined): ResolvedRateLimits {
  if (option === false) return null
  if (option !== undefined && (option === null || typeof option !== 'object')) {
    throw new TypeError('fastify-users: `rateLimit` must be an object or `false`')
  }
  const groups = option?.groups ?? {}
  const rules = { ...defaultRateLimits } as Record<RateLimitGroup, RateLimitRule | false>
  for (const [name, rule] of Object.entries(groups)) {
    if (!GROUPS.includes(name as RateLimitGroup)) {
      throw new TypeError(`fastify-users: unknown \`rateLimit.groups.${name}\`; groups: ${GROUPS.join(', ')}`)
    }
    if (rule === false) {
      rules[name as RateLimitGroup] = false
      continue
    }
    const { max, windowSeconds } = (rule ?? {}) as Partial<RateLimitRule>
    if (
      !Number.isInteger(max) ||
      (max as number) < 1 ||
      !Number.isInteger(windowSeconds) ||
      (windowSeconds as number) < 1
    ) {
      throw new TypeError(
        `fastify-users: \`rateLimit.groups.${name}\` must be { max, windowSeconds } with positive integers, or false`,
      )
    }
    rules[name as RateLimitGroup] = { max: max as number, windowSeconds: windowSeconds as number }
  }
  if (option?.redis !== undefined && typeof option.redis?.defineCommand !== 'function') {
    throw new TypeError('fastify-users: `rateLimit.redis` must be an ioredis client')
  }
  return { rules, redis: option?.redis, nameSpace: option?.nameSpace ?? 'fastify-users-rate-limit:' }
}

/**
 * Where the rate-limited route groups live (they move with the route-group options); the plugin fills it in.
 *
 * @example
 * ```ts
 * const paths: RateLimitPaths = { login: '/login', register: '/register', verify: '/verify', forgot: '/forgot-password', reset: '/reset-password' }
 * ```
 */
export interface RateLimitPaths {
  login: string
  register: string
  /** The verification route; the routes below it (`/verify/request`) count with it. */
  verify: string
  forgot: string
  reset: string
}

/** The group of a public route, from its path. */
function groupOfPath(url: string, paths: RateLimitPaths): RateLimitGroup {
  if (url === paths.login) return 'login'
  if (url === paths.register) return 'register'
  if (url === paths.verify || url.startsWith(`${paths.verify}/`)) return 'verification'
  if (url === paths.forgot || url === paths.reset) return 'passwordReset'
  return 'public'
}

/** Whether a route declares an authentication guard (a `preValidation` hook or a config guard). */
function isGuarded(route: RouteOptions): boolean {
  const config = (route.config ?? {}) as Record<string, unknown>
  const pre = route.preValidation
  return (
    (Array.isArray(pre) ? pre.length > 0 : pre !== undefined) ||
    config.requireUser !== undefined ||
    config.rolesAccepted !== undefined ||
    config.rolesRequired !== undefined
  )
}

/**
 * Sets up the limiters (in a scope of their own, so the application's own `@fastify/rate-limit`, if any,
 * is left alone) and returns the `onRoute` hook that puts them on the plugin's public routes.
 *
 * @example
 * ```ts
 * const onRoute = await createRateLimits(fastify, resolveRateLimits(options.rateLimit), paths)
 * routes.addHook('onRoute', onRoute)
 * ```
 */
export async function createRateLimits(
  fastify: FastifyInstance,
  resolved: ResolvedRateLimits,
  paths: RateLimitPaths,
): Promise<(route: RouteOptions) => void> {
  if (!resolved) return () => {}
  const limiters = new Map<RateLimitGroup, onRequestHookHandler>()
  // The callback form: `after` runs once @fastify/rate-limit has loaded and decorated the scope.
  await fastify.register((scope, _opts, done) => {
    scope.register(fastifyRateLimit, {
      global: false,
      ...(resolved.redis ? { redis: resolved.redis, nameSpace: resolved.nameSpace } : {}),
      // Redis down: refuse rather than serve unlimited (the routes behind are the ones attackers want).
      skipOnError: false,
    })
    scope.after(() => {
      for (const group of GROUPS) {
        const rule = resolved.rules[group]
        if (!rule) continue
        const limiter = scope.rateLimit({
          max: rule.max,
          timeWindow: rule.windowSeconds * 1000,
          // One count per group and address, whichever route of the group is called.
          keyGenerator: (request) => `${group}|${normalizeIP(request.ip, 64)}`,
          errorResponseBuilder: (_request, context) => new RateLimitedError(context.ttl / 1000),
        }) as (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>
        // A failing count store (Redis down) refuses the request with a 503, never a 500.
        limiters.set(group, (async (request, reply) => {
          try {
            return await limiter(request, reply)
          } catch (err) {
            if (err instanceof RateLimitedError) throw err
            throw new DatabaseUnavailableError({ cause: err })
          }
        }) as onRequestHookHandler)
      }
    })
    done()
  })
  return (route) => {
    const configured = (route.config as { rateLimitGroup?: RateLimitGroup | false } | undefined)
      ?.rateLimitGroup
    if (configured === false) return
    if (configured !== undefined && !GROUPS.includes(configured)) {
      throw new TypeError(`fastify-users: unknown rateLimitGroup '${String(configured)}' on ${route.url}`)
    }
    const group = configured ?? (isGuarded(route) ? null : groupOfPath(route.url, paths))
    const limiter = group ? limiters.get(group) : undefined
    if (!limiter) return
    const existing = route.onRequest
    route.onRequest = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), limiter]
  }
}
