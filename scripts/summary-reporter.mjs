/**
 * node:test reporter that prints, as its last line, exactly `N passed, N failed, N skipped`, preceded by the
 * names of the failed tests. Used by scripts/test.mjs next to the built-in spec reporter; CI reads the
 * last line.
 *
 * What counts (checked against Node 20.20's event stream):
 * - Leaf tests only. `describe` blocks carry `details.type === 'suite'`; a `test()` with `t.test()`
 *   subtests has no such marker, so it is recognised by having children (its subtests' events, one nesting
 *   level deeper, arrive before its own pass/fail).
 * - A suite or parent test that fails for its own reason (a failing before/after hook, an exception in the
 *   `describe` body) counts as one failure, because Node 20 reports an `after` hook failure only on the suite:
 *   its tests pass. Failures that only mean "a subtest failed" are not counted again.
 * - Tests cancelled because their suite's `before` hook failed are reported by Node as failures
 *   (`cancelledByParent`) and count as failed: they did not run.
 * - Node 20 runs each file in a subprocess and reports the file itself as a test named by its path, at
 *   nesting 0. It emits `test:fail` for it only when the file failed outside its tests (a load error, a
 *   crash, `process.exitCode`, an error thrown after a test ended, or the file timing out): that counts as
 *   one failure. Node 22+ does not emit these events; nothing else changes.
 * - Skipped and todo tests (and a skipped `describe`, which Node reports without its tests) count as skipped.
 */

import { relative } from 'node:path'

export default async function* summaryReporter(source) {
  let passed = 0
  let failed = 0
  let skipped = 0
  const failures = []
  /** Per file: names of the tests currently running, by nesting, and completed children per nesting. */
  const files = new Map()
  const stateOf = (file) => {
    const key = file ?? ''
    let state = files.get(key)
    if (!state) {
      state = { names: [], completed: [] }
      files.set(key, state)
    }
    return state
  }

  for await (const { type, data } of source) {
    if (type === 'test:start') {
      const state = stateOf(data.file)
      state.names[data.nesting] = data.name
      state.names.length = data.nesting + 1
      continue
    }
    if (type !== 'test:pass' && type !== 'test:fail') continue

    const state = stateOf(data.file)
    const nesting = data.nesting
    const hasChildren = (state.completed[nesting + 1] ?? 0) > 0
    state.completed[nesting + 1] = 0
    state.completed[nesting] = (state.completed[nesting] ?? 0) + 1

    const isFile = nesting === 0 && data.file !== undefined && data.name === data.file
    const isSuite = data.details?.type === 'suite'
    const isSkipped =
      (data.skip !== undefined && data.skip !== false) || (data.todo !== undefined && data.todo !== false)
    const failureType = data.details?.error?.failureType

    if (isFile || isSuite || hasChildren) {
      if (type === 'test:fail' && failureType !== 'subtestsFailed') {
        failed++
        failures.push(describeFailure(data, state, isFile))
      } else if (isSkipped && isSuite && !hasChildren) {
        skipped++
      }
      continue
    }
    if (isSkipped) skipped++
    else if (type === 'test:pass') passed++
    else {
      failed++
      failures.push(describeFailure(data, state, false))
    }
  }

  if (failures.length > 0) {
    yield `\nfailed tests (${failures.length}):\n`
    for (const line of failures) yield `  ✖ ${line}\n`
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`
}

function describeFailure(data, state, isFile) {
  const file = data.file ? relative(process.cwd(), data.file) : '(unknown file)'
  const path = isFile ? '(file)' : [...state.names.slice(0, data.nesting), data.name].join(' > ')
  const error = data.details?.error
  let reason = error?.cause?.message ?? error?.cause ?? error?.message ?? 'failed'
  if (typeof reason !== 'string') reason = String(reason)
  if (error?.failureType === 'hookFailed') reason = `${error.message}: ${reason}`
  if (isFile && reason === 'test failed') reason = 'the file failed outside its tests (see its output above)'
  return `${file}: ${path} - ${reason.split('\n')[0]}`
}
