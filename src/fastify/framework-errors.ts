/**
 * Problem answers for the errors Fastify raises before any route or hook runs: a path that is not valid
 * percent-encoding (`FST_ERR_BAD_URL`) and a path segment over `maxParamLength` (`FST_ERR_MAX_PARAM_LENGTH`,
 * an id over 100 characters). Fastify answers them with a bare JSON body unless the application passed a
 * `frameworkErrors` function to `Fastify()`; {@link fastifyUsersFrameworkErrors} is that function.
 *
 * @module
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadUrlError, UrlTooLongError } from '../kernel/errors.js'
import { sendProblem } from './error-handler.js'
import type { PluginPaths } from './not-found.js'

type FrameworkErrors = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void

/**
 * A `frameworkErrors` handler answering Fastify's router errors as problem+json
 * (`ERR_BAD_URL` 400, `ERR_URL_TOO_LONG` 414, anything else 400 `ERR_BAD_URL`).
 *
 * @example
 * ```ts
 * const app = Fastify({ frameworkErrors: fastifyUsersFrameworkErrors })
 * ```
 */
export const fastifyUsersFrameworkErrors: FrameworkErrors = (error, request, reply) => {
  request.log.info({ event: 'bad_url', code: error.code }, 'request refused by the router')
  sendProblem(reply, error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new UrlTooLongError() : new BadUrlError())
}

// Fastify keeps its constructor options under this symbol and reads `frameworkErrors` from them at each
// router error, so setting it there takes effect even after the instance was built.
function fastifyOptions(fastify: FastifyInstance): Record<string, unknown> | undefined {
  for (let o: object | null = fastify; o; o = Object.getPrototypeOf(o)) {
    const sym = Object.getOwnPropertySymbols(o).find((s) => s.description === 'fastify.options')
    if (sym) return (fastify as unknown as Record<symbol, Record<string, unknown>>)[sym]
  }
  return undefined
}

/**
 * Answers router errors on the plugin's paths as problem+json. An application's own `frameworkErrors`
 * stays in charge of every other path; without one, those get Fastify's usual body.
 */
export function installFrameworkErrors(fastify: FastifyInstance, paths: PluginPaths): void {
  const options = fastifyOptions(fastify)
  if (!options) return
  const own = options.frameworkErrors as FrameworkErrors | undefined
  if (own === fastifyUsersFrameworkErrors) return
  options.frameworkErrors = ((error, request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    if (paths.owns(path) || paths.allowed(path)) return fastifyUsersFrameworkErrors(error, request, reply)
    if (own) return own(error, request, reply)
    // Fastify's own answer, as it would have sent it.
    const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400
    reply.code(status).send({
      error: status === 414 ? 'URI Too Long' : 'Bad Request',
      code: error.code,
      message: error.message,
      statusCode: status,
    })
  }) satisfies FrameworkErrors
}
