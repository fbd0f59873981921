/**
 * The one place where errors become HTTP answers: RFC 9457 `application/problem+json` bodies with
 * `type`, `title`, `status`, `detail` and our stable `code`. Unexpected errors answer a generic 500 and
 * are logged with their stack; the library's own 503s (storage unavailable, busy, shutting down) are
 * logged once as a warning with their code; nothing internal (SQL, paths, secrets) reaches the client.
 *
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  DatabaseUnavailableError,
  FastifyUsersError,
  type FastifyUsersErrorCode,
  MethodNotAllowedError,
  RateLimitedError,
  ShuttingDownError,
  TooManyAttemptsError,
} from '../kernel/errors.js'
import { AUTHENTICATOR } from './request-auth.js'

/** HTTP status of every error code. The single table of the library. */
export const statusByCode: Record<FastifyUsersErrorCode, number> = {
  ERR_USER_EXISTS: 409,
  ERR_NOT_FOUND: 404,
  ERR_INVALID_TOKEN: 400,
  ERR_INVALID_CREDENTIALS: 401,
  ERR_WRONG_PASSWORD: 403,
  ERR_PASSWORD_REQUIRED: 400,
  ERR_NOT_VERIFIED: 403,
  ERR_INACTIVE: 403,
  ERR_PASSWORD_POLICY: 400,
  ERR_VALIDATION: 400,
  ERR_ROLE_EXISTS: 409,
  ERR_ROLE_ALREADY_ASSIGNED: 409,
  ERR_ROLE_NOT_ASSIGNED: 409,
  ERR_UNAUTHENTICATED: 401,
  ERR_FORBIDDEN: 403,
  ERR_CROSS_ORIGIN: 403,
  ERR_CONFLICT: 409,
  ERR_BUSY: 503,
  ERR_TOO_MANY_ATTEMPTS: 429,
  ERR_DATABASE_UNAVAILABLE: 503,
  ERR_SELF_LOCKOUT: 409,
  ERR_LAST_ADMIN: 409,
  ERR_RATE_LIMITED: 429,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_BAD_URL: 400,
  ERR_URL_TOO_LONG: 414,
  ERR_SHUTTING_DOWN: 503,
  ERR_OAUTH_CALLBACK: 400,
  ERR_OAUTH_LINK_REQUIRED: 409,
  ERR_OAUTH_ACCOUNT_IN_USE: 409,
  ERR_LAST_LOGIN_METHOD: 409,
  ERR_INVALID_OTP: 403,
  ERR_MFA_CHALLENGE: 401,
  ERR_STEP_UP_REQUIRED: 403,
}

/** One field that failed validation. */
export interface ProblemFieldError {
  field: string
  message: string
}

/** An RFC 9457 problem document with the library's `code`. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: ProblemFieldError[]
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

function problem(status: number, code: string, detail: string, errors?: ProblemFieldError[]): Problem {
  return {
    type: `urn:fastify-users:error:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  }
}

interface AjvError {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

function fieldOf(e: AjvError): string {
  const path = (e.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.')
  const extra =
    typeof e.params?.additionalProperty === 'string'
      ? e.params.additionalProperty
      : typeof e.params?.missingProperty === 'string'
        ? e.params.missingProperty
        : ''
  return [path, extra].filter(Boolean).join('.') || '(root)'
}

/**
 * Turns any error into a problem document. Library errors keep their code; Fastify's own client errors
 * (bad JSON, wrong content type, body too large) keep their status; anything else is a generic 500.
 */
export function problemFromError(error: unknown): Problem {
  if (error instanceof FastifyUsersError) {
    const status = statusByCode[error.code]
    const field = 'field' in error && typeof error.field === 'string' ? error.field : undefined
    return problem(
      status,
      error.code,
      error.message,
      field && status === 400 ? [{ field, message: error.message }] : undefined,
    )
  }
  const fe = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string }
  if (Array.isArray(fe.validation)) {
    const errors = fe.validation.map((e) => {
      const field = fieldOf(e)
      const message =
        e.keyword === 'additionalProperties'
          ? `unknown field '${field}'`
          : e.keyword === 'required'
            ? `'${field}' is required`
            : `'${field}' ${e.message ?? 'is invalid'}`
      return { field, message }
    })
    const where = fe.validationContext ?? 'request'
    return problem(
      400,
      'ERR_VALIDATION',
      `invalid ${where}: ${errors.map((e) => e.message).join('; ')}`,
      errors,
    )
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (FST_ERR_CTP_*) carry safe messages written for clients.
    return problem(
      status,
      typeof fe.code === 'string' ? fe.code : 'ERR_BAD_REQUEST',
      fe.message ?? TITLES[status] ?? 'Error',
    )
  }
  return problem(status === 503 ? 503 : 500, 'ERR_INTERNAL', 'an unexpected error occurred')
}

// The schemes of the configured backends only; without the plugin (an app calling sendProblem on its own
// instance before registering it), every scheme the plugin can offer.
function challengeOf(reply: FastifyReply): string {
  const server = reply.request?.server as unknown as Record<string, unknown> | undefined
  const auth = server?.[AUTHENTICATOR] as { challenge?: unknown } | undefined
  return typeof auth?.challenge === 'string' ? auth.challenge : 'Bearer, Cookie'
}

/** Sends an error as problem+json. Used by the error handler and by the guards on the application's routes. */
export function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  const body = problemFromError(error)
  if (body.status === 401) reply.header('www-authenticate', challengeOf(reply))
  // A full hash queue clears within a moment; tell clients when to come back.
  if (body.status === 503) reply.header('retry-after', '1')
  // The throttle knows when the identifier may try again. The body says nothing more, so it is the same
  // for a known and an unknown identifier.
  if (
    error instanceof TooManyAttemptsError ||
    error instanceof RateLimitedError ||
    error instanceof DatabaseUnavailableError
  ) {
    reply.header('retry-after', String(error.retryAfterSeconds))
  }
  if (error instanceof MethodNotAllowedError) reply.header('allow', error.allow.join(', '))
  // The client should go elsewhere (the next instance behind the balancer), not reuse this connection.
  if (error instanceof ShuttingDownError) reply.header('connection', 'close')
  // An error answer is about this request only: no cache may keep it.
  reply.header('cache-control', 'no-store')
  return reply.code(body.status).type('application/problem+json; charset=utf-8').send(body)
}

/** The error handler installed on the plugin's routes. */
export function errorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const body = problemFromError(error)
  if (error instanceof FastifyUsersError && body.status === 503) {
    // An outage or an overload the library expected (storage unreachable, hash queue full, shutting
    // down), not a bug: one warning with the code and the cause's message, no stack (the cause of a
    // Redis reply also carries the command's keys, which name sessions).
    const cause = error.cause instanceof Error ? error.cause.message.slice(0, 200) : undefined
    request.log.warn({ event: 'service_unavailable', code: body.code, cause }, error.message)
  } else if (body.status >= 500) {
    request.log.error({ err: error }, 'unexpected error')
  } else if (body.code === 'ERR_VALIDATION') {
    request.log.info(
      { event: 'input_validation_fail', fields: body.errors?.map((e) => e.field) },
      'invalid input',
    )
  }
  return sendProblem(reply, error)
}
