/**
 * Cross-site request forgery defence for the cookie backends, the way Go's `net/http`
 * `CrossOriginProtection` does it: browsers say where a request comes from (`Sec-Fetch-Site`, else
 * `Origin`), so no token is needed, and clients that are not browsers (no such headers) are not forged
 * by a third-party page and pass. Together with SameSite=Lax cookies, this closes CSRF while API
 * clients and the OpenAPI docs keep working.
 *
 * @module
 */

/** What the check reads from a request. */
export interface OriginCheckInput {
  method: string
  /** The `Sec-Fetch-Site` header, if any. */
  secFetchSite?: string | undefined
  /** The `Origin` header, if any. */
  origin?: string | undefined
  /** The `Host` header, to recognise same-origin requests of browsers that send no `Sec-Fetch-Site`. */
  host?: string | undefined
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Whether `method` is safe (GET, HEAD, OPTIONS): such requests change nothing, so the origin check
 * always lets them through, and callers can skip reading the headers.
 *
 * @example
 * ```ts
 * isSafeMethod('get') // true
 * ```
 */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method) || SAFE_METHODS.has(method.toUpperCase())
}

/**
 * `true` when a request may go on: a safe method; `Sec-Fetch-Site: same-origin` or `none` (typed by the
 * user); an `Origin` that is trusted or is this host; or neither header (not a browser).
 *
 * @param trustedOrigins - exact origins (`scheme://host[:port]`), compared as strings: no wildcards, so
 *   `https://app.example.evil` can never match `https://app.example`.
 *
 * @example
 * ```ts
 * isSameOriginOrTrusted({ method: 'POST', secFetchSite: 'cross-site', origin: 'https://evil.example' }, ['https://app.example']) // false
 * ```
 */
export function isSameOriginOrTrusted(input: OriginCheckInput, trustedOrigins: ReadonlySet<string>): boolean {
  if (isSafeMethod(input.method)) return true
  const site = input.secFetchSite?.toLowerCase()
  const origin = input.origin
  if (site === 'same-origin' || site === 'none') return true
  if (origin !== undefined && trustedOrigins.has(origin)) return true
  if (site !== undefined) return false
  if (origin === undefined) return true
  // No Sec-Fetch-Site (an older browser): accept an Origin that names this very host.
  try {
    return input.host !== undefined && new URL(origin).host === input.host
  } catch {
    return false
  }
}

/**
 * Canonicalises the configured trusted origins and refuses anything that is not a bare origin.
 *
 * @example
 * ```ts
 * parseTrustedOrigins(['https://app.example.com']) // Set { 'https://app.example.com' }
 * ```
 */
export function parseTrustedOrigins(origins: readonly string[], optionName = 'trustedOrigins'): Set<string> {
  const set = new Set<string>()
  for (const value of origins) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new TypeError(
        `fastify-users: \`${optionName}\` must list origins like 'https://app.example.com'; got '${value}'`,
      )
    }
    if (
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.pathname !== '/' ||
      url.search ||
      url.hash ||
      url.username
    ) {
      throw new TypeError(
        `fastify-users: \`${optionName}\` must list bare origins like 'https://app.example.com'; got '${value}'`,
      )
    }
    set.add(url.origin)
  }
  return set
}
