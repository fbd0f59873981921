#!/usr/bin/env node
/**
 * `node scripts/pack-check.mjs`: installs the package the way an application does, and uses it.
 *
 * 1. `npm pack` of a clean clone of this checkout's HEAD (no dist/: the `prepare` script builds it, with
 *    this checkout's node_modules for the tools), then checks the tarball: dist/ with
 *    every entry point of `exports` and `bin`, every source map pointing at a file that is shipped, the
 *    README, LICENSE and CHANGELOG, and every relative link of the shipped guides (docs/) leading to a
 *    shipped file.
 * 2. A fresh application in a temp directory OUTSIDE the repository installs the tarball from the npm
 *    registry's point of view (its dependencies resolved from the registry, not from this checkout's
 *    node_modules) with better-sqlite3 12, typescript, @types/node and @fastify/swagger, and fastify at the
 *    lowest and at the newest supported fastify 5 minor, in two passes. The first pass also checks that
 *    every package the plugin brings (its dependencies and theirs; not the peers) admits the lowest Node
 *    of its `engines`.
 * 3. Each pass type-checks the README example verbatim under `module: NodeNext` and under
 *    `moduleResolution: bundler`, loads the package from a CommonJS script with `require`, then builds a
 *    runnable copy of the example (a mailer that prints instead of SMTP, an app-registered @fastify/swagger,
 *    port 0), starts it on 127.0.0.1 and drives register, verify through the mailed link, login and the
 *    example's optional-auth route over real HTTP.
 *
 * Needs the npm registry. Prints each step; exits non-zero on the first failure. The temp directory is
 * removed at the end unless PACK_CHECK_KEEP=1.
 *
 * better-sqlite3 is a native module; its installer downloads a prebuilt binary from GitHub and compiles
 * from source (minutes) when that fails. The app installs the same version this checkout has and reuses
 * its compiled binary (same machine, same Node ABI) when there is one; otherwise it runs the installer.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** The lowest fastify 5 release the peer range admits, and the newest 5.x. */
const FASTIFY_VERSIONS = [lowestOf(pkg.peerDependencies.fastify), '^5']

function lowestOf(range) {
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range)
  if (!match) throw new Error(`pack-check: expected a caret peer range for fastify, got ${range}`)
  return match[1]
}

function step(message) {
  console.log(`\n--> ${message}`)
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options })
}

function fail(message) {
  throw new Error(`pack-check: ${message}`)
}

const work = mkdtempSync(join(tmpdir(), 'fastify-users-pack-'))
if (!relative(root, work).startsWith('..')) fail(`the temp directory ${work} is inside the repository`)

try {
  // 1. The tarball, packed from a clean clone of HEAD: no dist/ to start from (a build left by an earlier
  // step would hide a missing `prepare`), nothing uncommitted or ignored that a checkout may hold.
  step('clone HEAD and npm pack there')
  const clone = join(work, 'clone')
  run('git', ['clone', '--quiet', root, clone])
  if (run('git', ['status', '--porcelain'], { cwd: root }).trim()) {
    console.log('note: this checkout has uncommitted changes; the package is packed from HEAD without them')
  }
  if (existsSync(join(clone, 'dist'))) fail('a clean clone already has dist/')
  // The build tools of this checkout (npm pack runs `prepare`, which needs TypeScript).
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir')
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone }))
  const tarball = join(work, packed[0].filename)
  const shipped = new Set(packed[0].files.map((f) => f.path))
  checkTarball(shipped, tarball)

  // 2. The app.
  const app = join(work, 'app')
  mkdirSync(join(app, 'data'), { recursive: true })
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'pack-check-app', version: '1.0.0', private: true, type: 'module' }, null, 2),
  )
  const sqliteVersion = installedVersion('better-sqlite3')
  const baseDeps = [
    tarball,
    `better-sqlite3@${sqliteVersion ?? '^12'}`,
    `typescript@${installedVersion('typescript') ?? '^5'}`,
    '@types/node@^20',
    '@fastify/swagger@^9',
  ]

  for (const [pass, fastifyVersion] of FASTIFY_VERSIONS.entries()) {
    step(`install into ${app}: fastify@${fastifyVersion}`)
    npm(app, [
      'install',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      ...baseDeps,
      `fastify@${fastifyVersion}`,
    ])
    if (pass === 0) provideSqliteBinary(app, sqliteVersion)
    if (pass === 0) checkEngines(app)
    const resolved = JSON.parse(readFileSync(join(app, 'node_modules/fastify/package.json'), 'utf8')).version
    console.log(`fastify ${resolved}`)
    if (pass === 0 && resolved !== fastifyVersion) fail(`wanted fastify ${fastifyVersion}, got ${resolved}`)
    const copies = run('npm', ['ls', 'fastify', '--all', '--parseable'], { cwd: app }).trim().split('\n')
    const own = copies.filter((p) => p.endsWith('/node_modules/fastify'))
    if (own.length !== 1) fail(`more than one copy of fastify is installed:\n${own.join('\n')}`)

    step('type-check the README example (NodeNext, bundler)')
    const example = readmeExample()
    writeFileSync(join(app, 'readme-example.ts'), example)
    // The declaration files are checked too (skipLibCheck: false) once: they are the same in both passes.
    typecheck(app, 'readme-example.ts', { module: 'NodeNext', moduleResolution: 'NodeNext' }, pass > 0)
    typecheck(app, 'readme-example.ts', { module: 'ESNext', moduleResolution: 'bundler' }, true)

    step('require() from CommonJS')
    writeFileSync(
      join(app, 'require-check.cjs'),
      [
        "const users = require('fastify-users')",
        "const { fastifyUsers, optionalUser } = require('fastify-users/fastify')",
        "const { ConsoleMailer } = require('fastify-users/mail')",
        "const kysely = require('fastify-users/kysely')",
        "const testing = require('fastify-users/testing')",
        "if (typeof users.BaseUserService !== 'function') throw new Error('no BaseUserService')",
        "if (typeof fastifyUsers !== 'function' || typeof optionalUser !== 'function') throw new Error('no plugin')",
        "if (typeof ConsoleMailer !== 'function') throw new Error('no ConsoleMailer')",
        "if (typeof kysely.migrateToLatest !== 'function') throw new Error('no migrateToLatest')",
        "if (typeof testing.describeRepositoryConformance !== 'function') throw new Error('no conformance suite')",
        "console.log('require() ok')",
      ].join('\n'),
    )
    // Node 20.19+ and 22.12+ load ESM with require() without a flag, as the README says; there the check
    // runs without it, so it holds the README to its word. Older 20.x and 22.x need the flag.
    const semver = createRequire(join(root, 'package.json'))('semver')
    const unflagged = semver.satisfies(process.version, '^20.19.0 || >=22.12.0')
    const flags = unflagged ? [] : ['--experimental-require-module']
    run(process.execPath, [...flags, '--no-warnings', 'require-check.cjs'], {
      cwd: app,
      stdio: 'inherit',
    })

    step('run the example and drive a journey over HTTP')
    // Type-checked above as written; the runnable copy only needs its types stripped.
    writeFileSync(join(app, 'server.js'), stripTypes(app, runnable(example)))
    rmSync(join(app, 'data', 'app.db'), { force: true })
    await journey(app)
  }
  console.log('\npack-check: ok')
} finally {
  if (process.env.PACK_CHECK_KEEP === '1') console.log(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}

function npm(cwd, args) {
  execFileSync('npm', args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] })
}

function installedVersion(name) {
  const file = join(root, 'node_modules', name, 'package.json')
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined
}

function provideSqliteBinary(app, version) {
  const binary = 'build/Release/better_sqlite3.node'
  const ours = join(root, 'node_modules/better-sqlite3', binary)
  const target = join(app, 'node_modules/better-sqlite3', binary)
  if (version && existsSync(ours)) {
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(ours, target)
    console.log(`better-sqlite3 ${version}: reusing this checkout's compiled binary`)
  } else {
    npm(app, ['rebuild', 'better-sqlite3'])
  }
}

/**
 * Every package the plugin brings into an app (its dependencies, theirs, and so on; not the peers, which
 * are the app's choice) admits the lowest Node release of the plugin's `engines`: `npm ci --engine-strict`
 * on that Node does not fail because of the plugin. Read from the installed tree, so it checks what the
 * registry hands out today, not what this checkout's lock file pinned.
 */
function checkEngines(app) {
  const semver = createRequire(join(root, 'package.json'))('semver')
  const lowest = semver.minVersion(pkg.engines.node).version
  step(`engines: every package the plugin brings admits Node ${lowest} (engines.node ${pkg.engines.node})`)
  const top = join(app, 'node_modules')
  const visited = new Set()
  const refused = []
  const visit = (dir) => {
    if (visited.has(dir)) return
    visited.add(dir)
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    const range = manifest.engines?.node
    if (range && !semver.satisfies(lowest, range))
      refused.push(`${manifest.name}@${manifest.version} (node ${range})`)
    const optional = manifest.optionalDependencies ?? {}
    for (const name of Object.keys({ ...manifest.dependencies, ...optional })) {
      const found = installedDir(dir, name, top)
      if (found) visit(found)
      // An optional dependency for another platform is not installed, rightly.
      else if (!(name in optional)) fail(`${manifest.name} depends on ${name}, which is not installed`)
    }
  }
  visit(join(top, 'fastify-users'))
  if (refused.length > 0) fail(`needs a newer Node than ${lowest}:\n${refused.join('\n')}`)
  console.log(`${visited.size} packages admit Node ${lowest}`)
}

/** Where Node finds package `name` from the package in `dir`: the nearest node_modules up to `top`. */
function installedDir(dir, name, top) {
  for (let at = dir; at.startsWith(top); at = dirname(at)) {
    const candidate = join(at, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
  }
  return existsSync(join(top, name, 'package.json')) ? join(top, name) : undefined
}

function checkTarball(files, tarball) {
  step(`check ${relative(work, tarball)}: ${files.size} files`)
  const wanted = new Set([pkg.bin['fastify-users']])
  for (const entry of Object.values(pkg.exports)) {
    for (const target of Object.values(entry)) wanted.add(target)
  }
  for (const file of wanted) {
    if (!files.has(file.replace(/^\.\//, ''))) fail(`${file} is not in the tarball`)
  }
  const dir = join(work, 'unpacked')
  const packageDir = join(dir, 'package')
  mkdirSync(dir)
  run('tar', ['-xzf', tarball, '-C', dir])
  for (const file of files) {
    if (/\.test\.[jt]s$/.test(file)) fail(`a test is shipped: ${file}`)
  }
  // What a user reads beside the code: the licence the `license` field names, the changelog, the guides.
  for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md']) {
    if (!files.has(file)) fail(`${file} is not in the tarball`)
  }
  // Every relative link of a shipped guide leads to a shipped file (a guide read from node_modules).
  for (const file of files) {
    if (!/^docs\/.*\.md$/.test(file)) continue
    const text = readFileSync(join(packageDir, file), 'utf8')
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue
      const path = relative(packageDir, resolve(packageDir, dirname(file), target))
      if (!files.has(path)) fail(`${file} links to ${target}, which is not shipped`)
    }
  }
  // Every source map names files that are shipped.
  let maps = 0
  for (const file of files) {
    if (!file.endsWith('.map')) continue
    maps += 1
    const map = JSON.parse(readFileSync(join(packageDir, file), 'utf8'))
    for (const source of map.sources) {
      const target = relative(packageDir, resolve(packageDir, dirname(file), source))
      if (!files.has(target)) fail(`${file} points at ${source}, which is not shipped`)
    }
  }
  console.log(`${wanted.size} entry points and ${maps} source maps check out`)
}

/** The README's example program, as shipped: the first TypeScript block of its "Example" section. */
function readmeExample() {
  const readme = readFileSync(join(work, 'unpacked/package/README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Example'))
  const block = /```ts\n([\s\S]*?)```/.exec(section)
  if (!block?.[1].includes('fastifyUsers')) fail('no example program in the README')
  return block[1]
}

function typecheck(app, file, { module, moduleResolution }, skipLibCheck) {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module,
      moduleResolution,
      strict: true,
      skipLibCheck,
      types: ['node'],
    },
    files: [file],
  }
  config.compilerOptions.noEmit = true
  const name = `tsconfig.${moduleResolution.toLowerCase()}.json`
  writeFileSync(join(app, name), JSON.stringify(config, null, 2))
  try {
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', name], { cwd: app })
  } catch (error) {
    fail(`${file} does not type-check (${module}/${moduleResolution}):\n${error.stdout ?? error.message}`)
  }
  console.log(
    `${file}: ${module}/${moduleResolution}${skipLibCheck ? '' : ', with the declaration files,'} ok`,
  )
}

function stripTypes(app, code) {
  const ts = createRequire(join(app, 'package.json'))('typescript')
  const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  return ts.transpileModule(code, { compilerOptions: options }).outputText
}

/** The example, made runnable here: mail printed, the app's own @fastify/swagger, a free port. */
function runnable(example) {
  const replace = (text, from, to) => {
    if (!text.includes(from)) fail(`the README example no longer contains: ${from}`)
    return text.replace(from, to)
  }
  let code = example
  code = replace(
    code,
    'mailer: SmtpMailer.fromUrl(process.env.SMTP_URL!),',
    "mailer: { async send(mail) { console.log('MAIL ' + JSON.stringify(mail)) } },",
  )
  code = replace(code, "import { SmtpMailer } from 'fastify-users/mail'\n", '')
  code = replace(
    code,
    'const app = Fastify({ logger: true })\n',
    [
      'const app = Fastify({ logger: true })',
      "await app.register(swagger, { openapi: { info: { title: 'the app', version: '1.0.0' } } })",
      "app.get('/app-openapi.json', async () => app.swagger())",
      '',
    ].join('\n'),
  )
  code = replace(code, 'await app.listen({ port: 3000 })', "await app.listen({ port: 0, host: '127.0.0.1' })")
  return `import swagger from '@fastify/swagger'\n${code}`
}

async function journey(app) {
  const server = spawn(process.execPath, ['server.js'], {
    cwd: app,
    env: { ...process.env, USERS_SECRET: randomBytes(32).toString('base64url') },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const mails = []
  let buffered = ''
  let base
  const listening = new Promise((resolveUrl, reject) => {
    server.on('exit', (code) => reject(new Error(`the example exited with ${code}`)))
    server.stdout.on('data', (chunk) => {
      buffered += chunk
      let newline = buffered.indexOf('\n')
      while (newline >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf('\n')
        if (line.startsWith('MAIL ')) mails.push(JSON.parse(line.slice(5)))
        const at = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
        if (at) resolveUrl(at[1])
      }
    })
  })
  const timer = setTimeout(() => server.kill(), 60_000)
  try {
    base = await listening
    console.log(`the example listens at ${base}`)
    const email = `ada.${Date.now()}@example.com`
    const password = 'a long and unusual passphrase 42'
    const call = async (method, path, { body, cookie } = {}) => {
      const headers = {}
      if (body) headers['content-type'] = 'application/json'
      if (cookie) headers.cookie = cookie
      const res = await fetch(`${base}${path}`, { method, headers, body: body && JSON.stringify(body) })
      const text = await res.text()
      return { status: res.status, text, headers: res.headers }
    }
    const expect = (res, status, what) => {
      if (res.status !== status) fail(`${what}: ${res.status} (wanted ${status}): ${res.text}`)
      console.log(`${what}: ${res.status}`)
    }

    const doc = await call('GET', '/app-openapi.json')
    expect(doc, 200, "the app's own OpenAPI document")
    if (!JSON.parse(doc.text).paths['/login']) fail("the plugin's routes are not in the app's document")

    expect(await call('POST', '/register', { body: { email, password } }), 202, 'POST /register')
    const mail = await waitFor(() => mails.find((m) => m.to === email), 'the verification mail')
    const token = tokenOf(mail.text)
    // The link leads somewhere: the example turns the plugin's pages on, so its path answers a page.
    const linkPath = new URL(/https?:\/\/\S+/.exec(mail.text)[0]).pathname
    const page = await call('GET', linkPath)
    expect(page, 200, `GET ${linkPath}, the page the mailed link opens`)
    if (!page.headers.get('content-type')?.startsWith('text/html')) fail(`${linkPath} is not a page`)
    let verified = await call('POST', '/verify', { body: { token, password } })
    // Verification that does not ask for the password refuses the extra field; send the token alone.
    if (verified.status === 400 && JSON.parse(verified.text).code === 'ERR_VALIDATION') {
      verified = await call('POST', '/verify', { body: { token } })
    }
    expect(verified, 200, 'POST /verify with the mailed token')

    const login = await call('POST', '/login', { body: { email, password } })
    expect(login, 200, 'POST /login')
    const setCookie = login.headers.get('set-cookie')
    if (!setCookie) fail('the login set no cookie')
    const cookie = setCookie.split(';')[0]

    const me = await call('GET', '/users/me', { cookie })
    expect(me, 200, 'GET /users/me')
    const greeting = await call('GET', '/', { cookie })
    expect(greeting, 200, 'GET / with the cookie')
    if (!greeting.text.includes(email)) fail(`the optional-auth route did not see the user: ${greeting.text}`)
    const stranger = await call('GET', '/')
    expect(stranger, 200, 'GET / without a credential')
    if (!stranger.text.includes('stranger')) fail(`the optional-auth route: ${stranger.text}`)
    const forged = await call('GET', '/', { cookie: `${cookie.split('=')[0]}=forged` })
    expect(forged, 200, 'GET / with a forged cookie')
    if (!forged.text.includes('stranger')) fail(`a forged cookie was not anonymous: ${forged.text}`)
  } finally {
    clearTimeout(timer)
    server.kill()
  }
}

function tokenOf(text) {
  const link = /https?:\/\/\S+/.exec(text)?.[0]
  if (!link) fail(`no link in the mail: ${text}`)
  const url = new URL(link)
  const token = url.searchParams.get('token') ?? new URLSearchParams(url.hash.slice(1)).get('token')
  if (!token) fail(`no token in the link ${link}`)
  return token
}

async function waitFor(find, what) {
  for (let i = 0; i < 100; i += 1) {
    const found = find()
    if (found) return found
    await new Promise((r) => setTimeout(r, 100))
  }
  fail(`${what} did not arrive`)
}
