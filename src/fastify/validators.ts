/**
 * The validators of the plugin's routes.
 *
 * @module
 */
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv

/**
 * Validates requests strictly: unknown fields are refused (never silently dropped, so a client learns its
 * mistake and nothing unlisted reaches the service), and JSON bodies are never coerced ("12345678" is not
 * a number, ["a@x"] is not an email). Query strings and path params are text, so they are coerced.
 *
 * @example
 * ```ts
 * await fastify.register((routes, _opts, done) => { useStrictValidators(routes); done() })
 * ```
 */
export function useStrictValidators(routes: FastifyInstance): void {
  const make = (coerceTypes: boolean) =>
    addFormats(
      new Ajv({ removeAdditional: false, coerceTypes, useDefaults: true, allErrors: true, strict: false }),
    )
  const body = make(false)
  const text = make(true)
  routes.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema))
}
