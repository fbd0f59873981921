/**
 * The conformance suite has teeth: in-memory ports that are correct pass it, and ports with classic
 * storage bugs (a lost update under concurrency, a compare-and-set in two steps, a sweep that takes the
 * boundary, a lock that excludes nothing) fail exactly the tests that describe those bugs.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** Runs the fixture in its own `node --test` process; returns the names of the tests that passed and failed. */
async function runSuite(
  variant: 'correct' | 'broken',
): Promise<{ passed: Set<string>; failed: Set<string> }> {
  // Without the runner's NODE_TEST_CONTEXT, the child reports in TAP on its stdout instead of to this runner.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=tap', join(here, 'conformance-fixture.ts')],
    { env: { ...env, CONFORMANCE_VARIANT: variant }, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    output += chunk
  })
  await new Promise((resolve) => child.on('close', resolve))
  const passed = new Set<string>()
  const failed = new Set<string>()
  for (const match of output.matchAll(/^\s*(ok|not ok) \d+ - (.+?)(?: # .*)?$/gm)) {
    ;(match[1] === 'ok' ? passed : failed).add(match[2]!)
  }
  return { passed, failed }
}

describe('the conformance suite itself', () => {
  it('passes correct in-memory ports', async () => {
    const { passed, failed } = await runSuite('correct')
    assert.deepEqual([...failed], [])
    assert.ok(passed.has('counts N concurrent failures as exactly N'), [...passed].join('\n'))
    assert.ok(passed.size >= 20, `only ${passed.size} tests ran`)
  })

  it('fails each planted bug, and only those', async () => {
    const { failed } = await runSuite('broken')
    const bugs = [
      'compare-and-set: of concurrent writers expecting one state, exactly one wins',
      'counts N concurrent failures as exactly N',
      'sweeps the sessions whose end is before now, counting them; one ending now stays',
      'runs one function at a time and returns what each returns',
    ]
    const suites = [
      'broken storage',
      'UserRepository',
      'LoginAttemptStore',
      'SessionRepository',
      'ExclusiveLock',
    ]
    assert.deepEqual([...failed].sort(), [...bugs, ...suites].sort())
  })
})
