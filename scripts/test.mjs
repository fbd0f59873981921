#!/usr/bin/env node
/**
 * `npm test [-- paths...]`: runs the TypeScript tests with node:test and tsx.
 *
 *   node scripts/test.mjs                      every src/**\/*.test.ts and test/**\/*.test.ts
 *   node scripts/test.mjs test/helpers a.test.ts   only these files / directories
 *   node scripts/test.mjs --test-name-pattern=login test/fastify   options starting with -- go to node
 *
 * Node 20's `--test` does not expand globs, hence the directory walk here.
 *
 * Output: the spec reporter (readable progress) and scripts/summary-reporter.mjs, whose last line is
 * exactly `N passed, N failed, N skipped`. The exit code is node's: non-zero when anything failed.
 *
 * Environment:
 *   FASTIFY_USERS_TEST_CONCURRENCY  test files run at once (default: see below)
 *   FASTIFY_USERS_TEST_*_URL        database servers, see test/helpers/databases.ts
 */

import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Files run in parallel, each in its own process. That is safe: every suite gets its own fresh database
 * (test/helpers/databases.ts) and servers listen on port 0. Node's default is availableParallelism() - 1,
 * i.e. fully serial on the 2-core CI machine; but a test file spends much of its time waiting (tsx
 * start-up, database round trips, CREATE/DROP DATABASE), so 2 files at once finish sooner there. More
 * processes than cores is slower, not faster: the database servers and hashing need the same CPUs, and
 * timing-sensitive tests (expiry, rate limits) get flaky. Measured on the 2-core machine with 8 files
 * (database suites + CPU-bound hashing): 1 at a time 20-22 s, 2: 15-17 s, 3: 21-22 s, 4: 27 s.
 * Hence one per core, at least 2, at most 4.
 */
const DEFAULT_CONCURRENCY = Math.min(4, Math.max(2, availableParallelism()))

/**
 * Per test, and in Node 20 also per file (each file is a test of the runner). Generous, because a file's
 * database suites run within it; finite, because a leaked socket or pool keeps a file's process alive and
 * would otherwise hang CI forever instead of failing it.
 */
const TIMEOUT_MS = 5 * 60_000

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'coverage'])

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(path, out)
    } else if (entry.isFile() && entry.name.endsWith('.test.ts')) {
      out.push(path)
    }
  }
  return out
}

function fail(message) {
  console.error(`scripts/test.mjs: ${message}`)
  console.log('0 passed, 1 failed, 0 skipped')
  process.exit(1)
}

const nodeOptions = []
const targets = []
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('--')) nodeOptions.push(arg)
  else targets.push(resolve(arg)) // relative to where the user ran the command
}
if (targets.length === 0) {
  for (const dir of ['src', 'test']) {
    const path = join(root, dir)
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) targets.push(path)
  }
}

const files = []
for (const target of targets) {
  const stat = statSync(target, { throwIfNoEntry: false })
  if (!stat) fail(`no such file or directory: ${relative(root, target) || target}`)
  if (stat.isDirectory()) walk(target, files)
  else files.push(target)
}
// An empty run must not look like a green one.
if (files.length === 0) fail(`no *.test.ts files under ${targets.map((t) => relative(root, t)).join(', ')}`)

const concurrency = Number(process.env.FASTIFY_USERS_TEST_CONCURRENCY ?? DEFAULT_CONCURRENCY)
if (!Number.isInteger(concurrency) || concurrency < 1) {
  fail(
    `FASTIFY_USERS_TEST_CONCURRENCY must be a positive integer, got ${process.env.FASTIFY_USERS_TEST_CONCURRENCY}`,
  )
}

const args = [
  // Test locations and stack traces point at the .ts lines, not at tsx's output.
  '--enable-source-maps',
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  `--test-timeout=${TIMEOUT_MS}`,
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/summary-reporter.mjs',
  '--test-reporter-destination=stdout',
  ...nodeOptions,
  ...[...new Set(files)].sort().map((file) => relative(root, file)),
]

// From the repo root: `--import tsx` and the reporter path resolve there, and test names read as
// repo-relative paths.
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal))
}
child.on('error', (error) => fail(`cannot start node: ${error.message}`))
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0))
})
