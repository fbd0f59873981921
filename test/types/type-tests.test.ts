/**
 * Runs the type tests (`test/types/<case>/*.tst.ts`, checked by TSTyche) inside `npm test`: one test
 * here per type-test file, failing with TSTyche's own report. Each case is a directory with its own
 * tsconfig.json, because what an application registers by declaration merging holds for its whole
 * program: the default types and a registered user type cannot be checked in one program.
 *
 * They import 'fastify-users' by name, so they check the built declarations (`npm test` builds first).
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const tstyche = join(dirname(createRequire(import.meta.url).resolve('tstyche/package.json')), 'build/bin.js')

const files = readdirSync(here, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((dir) =>
    readdirSync(join(here, dir.name))
      .filter((name) => name.endsWith('.tst.ts'))
      .map((name) => relative(root, join(here, dir.name, name))),
  )
  .sort()

const run = spawnSync(process.execPath, [tstyche, ...files], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  timeout: 4 * 60_000,
})
const report = `${run.stdout ?? ''}${run.stderr ?? ''}`
// TSTyche prints `pass ./path` or `fail ./path` for each file it checked.
const verdicts = new Map<string, string>()
for (const match of report.matchAll(/^(pass|fail)\s+\.\/(\S+)$/gm)) {
  verdicts.set(match[2] as string, match[1] as string)
}

test('type tests found', () => {
  if (files.length === 0) throw new Error('no *.tst.ts file under test/types/*/')
})

for (const file of files) {
  test(`types: ${file}`, () => {
    const verdict = verdicts.get(file)
    if (verdict !== 'pass') {
      throw new Error(`${verdict === 'fail' ? 'type tests failed' : 'not checked'}: ${file}\n${report}`)
    }
  })
}

test('tstyche exits cleanly', () => {
  if (run.error) throw run.error
  if (run.status !== 0) throw new Error(`tstyche exited with ${run.status}\n${report}`)
})
