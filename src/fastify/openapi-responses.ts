/**
 * What each operation of the plugin answers, as the OpenAPI document tells it: the success answer's
 * description and headers, and every error answer (`application/problem+json`, the problem schema) that
 * can happen, with the codes behind each status. Statuses come from the error handler's one table
 * ({@link statusByCode}); the codes an operation can answer are derived from the route (a body or
 * parameters can be invalid, a credential can be missing, a public route is rate-limited, any route can
 * lose its database) plus the few its own logic adds, listed here per `operationId`.
 *
 * Documentation only: the routes' runtime schemas are left as they are, so nothing here changes how an
 * answer is validated or serialised.
 *
 * @module
 */
import type { FastifyUsersErrorCode } from '../kernel/errors.js'
import { statusByCode } from './error-handler.js'
import { OPERATIONS, type OperationFacts, type OperationId } from './openapi-operations.js'

export { OPERATIONS, type OperationId } from './openapi-operations.js'

// Fastify's own answers to a body it cannot take; the error handler keeps their status and code.
type FrameworkCode =
  | 'FST_ERR_CTP_INVALID_JSON_BODY'
  | 'FST_ERR_CTP_EMPTY_JSON_BODY'
  | 'FST_ERR_CTP_BODY_TOO_LARGE'
  | 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
const frameworkStatus: Record<FrameworkCode, number> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 400,
  FST_ERR_CTP_EMPTY_JSON_BODY: 400,
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
}

const MEANING: Partial<Record<FastifyUsersErrorCode | FrameworkCode, string>> = {
  ERR_VALIDATION: 'the request does not match its schema or a value is refused; `errors` names the fields',
  ERR_INVALID_TOKEN: 'the token is invalid, expired, already used or superseded',
  ERR_PASSWORD_REQUIRED: "the account's password is missing or wrong",
  ERR_PASSWORD_POLICY: 'the new password is refused by the password policy',
  ERR_INVALID_CREDENTIALS: 'unknown user or wrong password (the same answer for both)',
  ERR_UNAUTHENTICATED: 'no valid credential',
  ERR_WRONG_PASSWORD: 'the current password is wrong',
  ERR_NOT_VERIFIED: 'the account is not verified yet',
  ERR_INACTIVE: 'the account is deactivated',
  ERR_FORBIDDEN: 'the credential lacks a required role',
  ERR_CROSS_ORIGIN: 'a cross-site request to a cookie backend, from an origin not trusted',
  ERR_NOT_FOUND: 'no such user or role',
  ERR_USER_EXISTS: 'the address or username belongs to another account',
  ERR_ROLE_EXISTS: 'a role of that name exists',
  ERR_ROLE_ALREADY_ASSIGNED: 'the user has the role already',
  ERR_ROLE_NOT_ASSIGNED: 'the user does not have the role',
  ERR_CONFLICT: 'a concurrent change won; retry',
  ERR_SELF_LOCKOUT: 'an admin cannot deactivate, delete or demote themselves',
  ERR_LAST_ADMIN: 'the last admin cannot be removed',
  ERR_TOO_MANY_ATTEMPTS: 'too many failed logins for this account; wait `Retry-After` seconds',
  ERR_RATE_LIMITED: 'too many requests from this address; wait `Retry-After` seconds',
  ERR_BUSY: 'too many password hashes queued; retry after `Retry-After` seconds',
  ERR_DATABASE_UNAVAILABLE: 'the database cannot be reached; retry after `Retry-After` seconds',
  ERR_SHUTTING_DOWN: 'the server is shutting down; retry on another instance or later',
  ERR_OAUTH_CALLBACK:
    "the identity provider's answer was refused (state, PKCE, nonce, expired flow); start again",
  ERR_OAUTH_LINK_REQUIRED: 'an account holds this email: log in to it, then link the provider',
  ERR_OAUTH_ACCOUNT_IN_USE: 'this provider account is linked to another user',
  ERR_LAST_LOGIN_METHOD:
    'the last way to log in cannot be removed: set a password, link another provider or add a passkey',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'an empty body sent as `application/json`',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body is not `application/json`',
}

const TITLE: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  503: 'Service unavailable',
}

/**
 * The mark on an operation whose request body is optional. `@fastify/swagger` marks every body it
 * documents required; `markOptionalBodies` in `openapi.ts` turns the mark into `required: false`.
 *
 * @example
 * ```ts
 * documentOperation(verifySchema, 'POST', options)?.[OPTIONAL_BODY] // true
 * ```
 */
export const OPTIONAL_BODY = 'x-fastify-users-optional-body'

/**
 * The `$id` of the problem schema, registered on the Fastify instance by the plugin; the document lists it
 * as `#/components/schemas/FastifyUsersProblem`.
 *
 * @example
 * ```ts
 * const problem = { $ref: PROBLEM_SCHEMA_ID }
 * ```
 */
export const PROBLEM_SCHEMA_ID = 'FastifyUsersProblem'

const header = (description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
  ...schema,
  description,
})

const RETRY_AFTER = header('Seconds to wait before retrying.', { type: 'integer', minimum: 0 })

/**
 * What the documentation of the plugin's routes depends on.
 *
 * @example
 * ```ts
 * const options: OperationDocOptions = { cookieBackend: true, rateLimited: true, challenge: 'Cookie' } // session
 * ```
 */
export interface OperationDocOptions {
  /**
   * A backend's credential travels in a cookie (`session`, `jwt-cookie`), not in an `Authorization`
   * header, so state-changing requests pass the origin check.
   */
  cookieBackend: boolean
  /**
   * The configured backends in order, each by name and whether its credential is a cookie. A backend's own
   * operations (`loginJwt`, `logoutJwt`, ...) document the cookies of that backend; the others, those of the
   * first. `Clear-Site-Data` is documented only where the server sends it: a logout with one cookie backend.
   * Default: one backend that uses a cookie exactly when `cookieBackend` says so.
   */
  backends?: ReadonlyArray<{ name: string; cookie: boolean }>
  /** Per-address rate limits are on (the plugin's `rateLimit` option is not `false`). */
  rateLimited: boolean
  /**
   * The `WWW-Authenticate` value of every 401, the schemes of the configured backends (`Bearer` for `jwt`,
   * `Cookie` for `session` and `jwt-cookie`, both for both). Documented as the one value the header takes.
   */
  challenge: string
}

type Schema = Record<string, unknown>

/**
 * The route schema as the OpenAPI document should see it: `security: []` on a public operation, a
 * description and the headers on each success answer, and one problem answer per error status that can
 * happen. A route without a known `operationId` (an application's own) is returned unchanged.
 *
 * @example
 * ```ts
 * const documented = documentOperation(route.schema, 'POST', {
 *   cookieBackend: true,
 *   rateLimited: true,
 *   challenge: 'Cookie',
 * })
 * ```
 */
export function documentOperation(
  schema: Schema | undefined,
  method: string,
  options: OperationDocOptions,
): Schema | undefined {
  const operationId = schema?.operationId
  const known = typeof operationId === 'string' ? documentedAs(operationId) : null
  if (!schema || !known) return schema
  const facts = OPERATIONS[known]
  const security = Array.isArray(schema.security) ? (schema.security as unknown[]) : []
  const isProtected = security.length > 0

  const codes = new Set<FastifyUsersErrorCode | FrameworkCode>()
  if (schema.body || schema.querystring || schema.params) codes.add('ERR_VALIDATION')
  if (schema.body) {
    codes.add('FST_ERR_CTP_INVALID_JSON_BODY')
    codes.add('FST_ERR_CTP_EMPTY_JSON_BODY')
    codes.add('FST_ERR_CTP_BODY_TOO_LARGE')
    codes.add('FST_ERR_CTP_INVALID_MEDIA_TYPE')
  }
  if (isProtected) codes.add('ERR_UNAUTHENTICATED')
  if (isProtected && facts.admin) codes.add('ERR_FORBIDDEN')
  if (options.cookieBackend && !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase())) {
    codes.add('ERR_CROSS_ORIGIN')
  }
  for (const code of facts.errors) codes.add(code)
  if (!isProtected && options.rateLimited) codes.add('ERR_RATE_LIMITED')
  codes.add('ERR_DATABASE_UNAVAILABLE')
  codes.add('ERR_SHUTTING_DOWN')

  const byStatus = new Map<number, Array<FastifyUsersErrorCode | FrameworkCode>>()
  for (const code of codes) {
    const status =
      code in frameworkStatus
        ? frameworkStatus[code as FrameworkCode]
        : statusByCode[code as FastifyUsersErrorCode]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }

  const response: Record<string, Schema> = {}
  for (const [status, raw] of Object.entries((schema.response ?? {}) as Record<string, Schema>)) {
    const description = facts.success[Number(status)]
    response[status] = {
      ...raw,
      ...(raw.description === undefined && description ? { description } : {}),
      ...successHeaders(facts, operationId as string, known, options),
    }
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const list = byStatus.get(status) ?? []
    response[String(status)] = {
      description: `${TITLE[status] ?? 'Error'}: ${list.map((c) => `\`${c}\` (${MEANING[c] ?? c})`).join('; ')}.`,
      ...errorHeaders(status, options),
      content: { 'application/problem+json': { schema: { $ref: PROBLEM_SCHEMA_ID } } },
    }
  }
  return { ...schema, security, response, ...(facts.optionalBody ? { [OPTIONAL_BODY]: true } : {}) }
}

/**
 * The `operationId` of a login or logout route of a backend other than the first (those answer at
 * `/auth/<name>/login` and `/auth/<name>/logout`): the base id followed by the backend's name in
 * PascalCase, so ids stay unique and camelCase.
 *
 * @example
 * ```ts
 * backendOperationId('login', 'jwt-cookie') // 'loginJwtCookie'
 * ```
 */
export function backendOperationId(base: BackendOperationBase, backendName: string): string {
  const pascal = backendName
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('')
  return `${base}${pascal}`
}

/** The operations every backend has one of, at its own path. */
const BACKEND_OPERATIONS = [
  'loginSecondFactorPasskeyOptions',
  'loginSecondFactor',
  'login',
  'logout',
  'refresh',
] as const

/**
 * The base of a backend's own operation id.
 *
 * @example
 * ```ts
 * const base: BackendOperationBase = 'loginSecondFactor'
 * ```
 */
export type BackendOperationBase = (typeof BACKEND_OPERATIONS)[number]

// Longest first: `loginSecondFactorJwt` is the second step of `jwt`, not a login of `secondFactorJwt`.
const BACKEND_OPERATION = new RegExp(`^(${BACKEND_OPERATIONS.join('|')})[A-Z][A-Za-z0-9]*$`)

/** The operation whose facts document this id: itself, or the base of a backend's own operation. */
function documentedAs(operationId: string): OperationId | null {
  if (Object.hasOwn(OPERATIONS, operationId)) return operationId as OperationId
  const base = BACKEND_OPERATION.exec(operationId)?.[1]
  return (BACKEND_OPERATIONS as readonly string[]).includes(base ?? '')
    ? (base as BackendOperationBase)
    : null
}

/** The backend whose credential an operation issues or clears: the one its id names, else the first. */
function cookieOf(operationId: string, known: OperationId, options: OperationDocOptions) {
  const backends = options.backends ?? [{ name: '', cookie: options.cookieBackend }]
  const named =
    operationId !== known && (BACKEND_OPERATIONS as readonly string[]).includes(known)
      ? backends.find((b) => backendOperationId(known as BackendOperationBase, b.name) === operationId)
      : undefined
  return {
    cookie: (named ?? backends[0])?.cookie ?? false,
    cookieBackends: backends.filter((b) => b.cookie).length,
  }
}

function successHeaders(
  facts: OperationFacts,
  operationId: string,
  known: OperationId,
  options: OperationDocOptions,
): Schema {
  const { cookie, cookieBackends } = cookieOf(operationId, known, options)
  if (!cookie || !facts.cookie) return {}
  if (facts.cookie === 'issues') {
    return { headers: { 'Set-Cookie': header('The credential cookie (`HttpOnly`, `Path=/`).') } }
  }
  // The server asks the browser to drop the site's cookies only when no other backend's cookie would go too.
  const clearSite =
    cookieBackends === 1
      ? { 'Clear-Site-Data': header('`"cookies"`: the browser drops every cookie of the site.') }
      : {}
  return { headers: { 'Set-Cookie': header('Expires the credential cookie.'), ...clearSite } }
}

function errorHeaders(status: number, options: OperationDocOptions): Schema {
  if (status === 401) {
    const schemes = `\`${options.challenge}\``
    return {
      headers: {
        'WWW-Authenticate': header(`The authentication schemes this server accepts: ${schemes}.`, {
          type: 'string',
          enum: [options.challenge],
        }),
      },
    }
  }
  if (status === 429 || status === 503) return { headers: { 'Retry-After': RETRY_AFTER } }
  return {}
}
