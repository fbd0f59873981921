#!/usr/bin/env node
/**
 * The `fastify-users` executable (`bin`). Everything it does is in {@link runCli}; this file only runs it
 * and hands its result to the process.
 *
 * @example
 * ```sh
 * npx fastify-users migrate --database-url sqlite:data/app.db
 * npx fastify-users --help
 * ```
 *
 * @module
 */
import { runCli } from './run-cli.js'

// exitCode, not process.exit(): stdout is a pipe in scripts, and exit() could cut a JSON listing short.
process.exitCode = await runCli(process.argv)
