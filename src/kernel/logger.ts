/**
 * The logging port: the subset of pino's API the core uses, so Fastify's logger (or any pino instance)
 * plugs in as is, and the core still imports no logging library.
 *
 * @module
 */

/** A pino-compatible logger. */
export interface Logger {
  info(obj: Record<string, unknown>, msg?: string): void
  warn(obj: Record<string, unknown>, msg?: string): void
  error(obj: Record<string, unknown>, msg?: string): void
}

/** Discards everything. Default when no logger is given. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
}
