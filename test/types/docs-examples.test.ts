/**
 * The TypeScript examples of the docs that an application copies compile as written: each is handed to
 * the compiler with the project's strict options, in a program of its own (a `declare module` in one
 * example must not change the types another sees), importing 'fastify-users' by name, so from the built
 * declarations (`npm test` builds first). The custom-fields example once did not compile: the type of a
 * field schema allowed only `type` and `maxLength`, though `minimum` and `enum` worked at run time.
 *
 * An example that is a fragment gets the lines it leaves out (`// ...`) from the test, and nothing else.
 * The program's one file is served from memory at a path inside the package, so the package resolves
 * itself by name; nothing is written to disk.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'

const root = resolve(import.meta.dirname, '../..')

/** The first `ts` block of the section `## heading` of a doc. */
function exampleOf(doc: string, heading: string): string {
  const text = readFileSync(join(root, doc), 'utf8')
  const at = text.indexOf(`\n## ${heading}\n`)
  assert.ok(at >= 0, `${doc} has the section "${heading}"`)
  const next = text.indexOf('\n## ', at + 1)
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at, next < 0 ? undefined : next))?.[1]
  assert.ok(block, `the section "${heading}" of ${doc} has a ts example`)
  return block
}

/** The compiler's diagnostics for one module, checked as a file of this package. */
function diagnosticsOf(source: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  )
  assert.ok(config)
  const options = { ...config.options, noEmit: true }
  const file = join(root, 'test/types/docs-example.ts')
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest)
  host.fileExists = (name) => name === file || ts.sys.fileExists(name)
  host.readFile = (name) => (name === file ? source : ts.sys.readFile(name))
  const program = ts.createProgram([file], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
    return `line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
}

/** docs/fastify.md's custom-fields example, its `// ...` given the two options every registration needs. */
function customFieldsProgram(example: string): string {
  assert.ok(example.includes('  // ...\n'), 'the example leaves the other options out as `// ...`')
  return [
    "import Fastify from 'fastify'",
    "import { fastifyUsers } from 'fastify-users/fastify'",
    "import type { Kysely } from 'kysely'",
    '',
    'declare const database: Kysely<unknown>',
    'const app = Fastify()',
    example.replace('  // ...\n', '  secret: process.env.USERS_SECRET!,\n  database,\n'),
  ].join('\n')
}

test('docs/fastify.md: the custom-fields example compiles (`minimum` is a schema keyword)', () => {
  const example = exampleOf('docs/fastify.md', 'Custom fields')
  assert.match(example, /minimum: 0/)
  assert.deepEqual(diagnosticsOf(customFieldsProgram(example)), [])
})

test('docs/typescript.md: the example registering the user type compiles', () => {
  const example = exampleOf('docs/typescript.md', 'Registering the user type')
  assert.match(example, /declare module 'fastify-users'/)
  assert.deepEqual(diagnosticsOf(example), [])
})

test('the check reports a wrong example: a misspelt keyword in a field schema is a type error', () => {
  const example = exampleOf('docs/fastify.md', 'Custom fields').replace('minimum: 0', 'minimun: 0')
  const errors = diagnosticsOf(customFieldsProgram(example))
  assert.ok(
    errors.some((e) => e.includes('minimun')),
    `the misspelt keyword is reported: ${errors.join('\n')}`,
  )
})
