/**
 * `fastify-users import`, as shipped: the built binary runs in a subprocess against a fresh database of
 * every dialect, with hashes made by the real libraries of the systems users come from (better-auth's own
 * `hashPassword`, argon2id with pwdlib's parameters, bcrypt in its three spellings, our scrypt). Every
 * imported user then logs in through the user service, and their hash is upgraded to argon2id.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { hashPassword as betterAuthHash } from 'better-auth/crypto'
import { sql } from 'kysely'
import { runCli } from '../../src/cli/run-cli.js'
import { BaseUserService } from '../../src/index.js'
import { Argon2idHasher } from '../../src/password/argon2-hasher.js'
import { ScryptHasher } from '../../src/password/scrypt-hasher.js'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { assertBuilt, type CliRun, runCliProcess } from './cli-process.js'

const PASSWORD = 'correct horse battery staple'
const SECRET = 'import-test-secret-0123456789-abcdefghijklmnop'

before(() => assertBuilt())

/** One hash of PASSWORD per kind a migrating user may bring. */
async function foreignHashes(): Promise<Record<string, string>> {
  const bcrypt = await bcryptHash(PASSWORD, 10)
  const body = bcrypt.slice(4)
  return {
    // pwdlib's and argon2-cffi's defaults (fastapi-users, litestar-users)
    argon2id: await new Argon2idHasher({ memoryCost: 65536, timeCost: 3, parallelism: 4 }).hash(PASSWORD),
    bcrypt2a: `$2a$${body}`,
    bcrypt2b: `$2b$${body}`,
    bcrypt2y: `$2y$${body}`,
    scrypt: await new ScryptHasher().hash(PASSWORD),
    betterAuth: await betterAuthHash(PASSWORD),
  }
}

async function count(database: TestDatabase<unknown>, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    database.db,
  )
  return Number(rows[0]?.n)
}

function jsonl(rows: readonly unknown[]): string {
  return `${rows.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join('\n')}\n`
}

for (const { name, skip } of testDialects) {
  describe(`fastify-users import on ${name}`, { skip }, () => {
    let database: TestDatabase<unknown>
    let dir: string
    let hashes: Record<string, string>
    let run: (...args: string[]) => Promise<CliRun>
    const file = (fileName: string, text: string) => {
      const path = join(dir, fileName)
      writeFileSync(path, text)
      return path
    }

    before(async () => {
      database = await createTestDatabase(name)
      dir = mkdtempSync(join(tmpdir(), 'fu-import-'))
      run = (...args) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
      assert.equal((await run('migrate')).code, 0)
      await sql`alter table users add column display_name varchar(100)`.execute(database.db)
      await sql`alter table users add column age integer`.execute(database.db)
      hashes = await foreignHashes()
    })
    after(async () => {
      await database?.destroy()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const service = () =>
      new BaseUserService({
        secret: SECRET,
        ...createKyselyRepositories(database.db, {
          userFields: { displayName: { type: 'string' }, age: { type: 'integer' } },
        }),
        hashSchemes: ['argon2id', 'bcrypt', 'scrypt'],
      })

    it('imports JSON Lines with every hash kind; each user logs in and their hash becomes argon2id', async () => {
      const rows = Object.entries(hashes).map(([kind, hash], i) => ({
        email: `${kind}@Example.com`,
        password_hash: hash,
        is_verified: true,
        is_active: 'yes',
        roles: i === 0 ? ['admin', 'Staff'] : ['staff'],
        display_name: `User ${kind}`,
        age: 30 + i,
      }))
      const result = await run('import', file('users.jsonl', jsonl(rows)), '--create-roles')
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stderr, '')
      assert.match(result.stdout, /^Imported 6 users, 0 skipped \(already there\), 0 refused\.$/m)
      assert.match(result.stdout, /Created roles: admin, staff\./)
      assert.match(result.stdout, /Password hashes: argon2id 1, bcrypt 3, scrypt 2\./)
      assert.match(result.stdout, /hashSchemes: \['argon2id', 'bcrypt', 'scrypt'\]/)

      const users = service()
      for (const [i, kind] of Object.keys(hashes).entries()) {
        const email = `${kind.toLowerCase()}@example.com`
        const stored = await users.getUserBy({ email })
        assert.ok(stored, `${email} imported`)
        assert.equal(stored.isVerified, true)
        assert.equal(stored.isActive, true)
        assert.equal((stored as unknown as { displayName: string }).displayName, `User ${kind}`)
        assert.equal((stored as unknown as { age: number }).age, 30 + i)
        assert.deepEqual(stored.roles.map((r) => r.name).sort(), i === 0 ? ['admin', 'staff'] : ['staff'])
        if (kind === 'betterAuth') assert.match(stored.passwordHash, /^\$scrypt\$ln=14,r=16,p=1\$/)
        else assert.equal(stored.passwordHash, hashes[kind])

        assert.equal(await users.authenticate({ email, password: 'wrong password here' }), null)
        const loggedIn = await users.authenticate({ email, password: PASSWORD })
        assert.ok(loggedIn, `${kind} logs in`)
        const after = await users.getUserBy({ email })
        assert.match(after!.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, `${kind} upgraded`)
        assert.ok(
          await users.authenticate({ email, password: PASSWORD }),
          `${kind} logs in after the upgrade`,
        )
      }
    })

    it('running the same file again skips every address and changes nothing', async () => {
      const before = await service().getUserBy({ email: 'bcrypt2a@example.com' })
      const rows = [{ email: 'BCRYPT2A@example.com', password_hash: hashes.bcrypt2b, is_active: false }]
      const result = await run('import', file('again.jsonl', jsonl(rows)))
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /^Imported 0 users, 1 skipped \(already there\), 0 refused\.$/m)
      const after = await service().getUserBy({ email: 'bcrypt2a@example.com' })
      assert.deepEqual(after, before)
    })

    it('imports CSV: header names, psql booleans and arrays, empty cells, quoted fields', async () => {
      const csv =
        'email,password_hash,is_active,is_verified,roles,display_name,age\r\n' +
        `csv1@example.com,${hashes.bcrypt2b},t,1,"{staff,admin}","Lovelace, Ada",36\r\n` +
        `csv2@example.com,${hashes.betterAuth},false,,,,\r\n`
      const result = await run('import', file('users.csv', csv))
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /^Imported 2 users, 0 skipped \(already there\), 0 refused\.$/m)
      const users = service()
      const first = await users.getUserBy({ email: 'csv1@example.com' })
      assert.equal(first?.isActive, true)
      assert.equal(first?.isVerified, true)
      assert.equal((first as unknown as { displayName: string }).displayName, 'Lovelace, Ada')
      assert.deepEqual(first?.roles.map((r) => r.name).sort(), ['admin', 'staff'])
      const second = await users.getUserBy({ email: 'csv2@example.com' })
      assert.equal(second?.isActive, false)
      assert.equal(second?.isVerified, false, 'unverified when the cell is empty')
      assert.equal((second as unknown as { displayName: string | null }).displayName, null)
      assert.deepEqual(second?.roles, [])
      assert.ok(await users.authenticate({ email: 'csv1@example.com', password: PASSWORD }))
    })

    it('a dry run checks every row against the database and writes nothing', async () => {
      const usersBefore = await count(database, 'users')
      const rolesBefore = await count(database, 'roles')
      const rows = [
        { email: 'dry1@example.com', password_hash: hashes.scrypt, roles: ['auditor'] },
        { email: 'dry2@example.com', password_hash: hashes.argon2id },
        { email: 'csv1@example.com', password_hash: hashes.argon2id },
        { email: 'dry3@example.com', password_hash: 'pbkdf2_sha256$600000$salt$hash' },
      ]
      const result = await run('import', file('dry.jsonl', jsonl(rows)), '--dry-run', '--create-roles')
      assert.equal(result.code, 1)
      assert.match(
        result.stdout,
        /^Dry run: 2 users would be imported, 1 skipped \(already there\), 1 refused; nothing was written\.$/m,
      )
      assert.match(result.stdout, /Roles that would be created: auditor\./)
      assert.match(result.stderr, /^line 4: passwordHash: not a password hash/m)
      assert.equal(await count(database, 'users'), usersBefore)
      assert.equal(await count(database, 'roles'), rolesBefore)
      assert.equal(await service().getRoleByName('auditor'), null)
    })

    it('refuses bad rows with their line and reason, writes the good ones, and leaves no half-written user', async () => {
      const usersBefore = await count(database, 'users')
      const rows = [
        { email: 'good1@example.com', password_hash: hashes.bcrypt2y, roles: ['staff'] },
        { email: 'norole@example.com', password_hash: hashes.bcrypt2y, roles: ['staff', 'nosuchrole'] },
        { email: 'plain@example.com', password_hash: 'hunter2' },
        {
          email: 'argon2i@example.com',
          password_hash: '$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g',
        },
        { email: 'unknown@example.com', password_hash: hashes.bcrypt2y, last_login: '2024-01-01' },
        { email: 'not-an-address', password_hash: hashes.bcrypt2y },
        { email: 'age@example.com', password_hash: hashes.bcrypt2y, age: 'old' },
        { email: 'nohash@example.com' },
        'not json',
        [1, 2],
        { email: 'Good1@example.com', password_hash: hashes.bcrypt2y },
        { email: 'good2@example.com', password_hash: hashes.argon2id, is_active: 'maybe' },
        { email: 'good3@example.com', password_hash: hashes.argon2id },
      ]
      const reportPath = join(dir, 'refused.jsonl')
      const result = await run('import', file('bad.jsonl', jsonl(rows)), '--report', reportPath)
      assert.equal(result.code, 1)
      assert.match(result.stdout, /^Imported 2 users, 0 skipped \(already there\), 11 refused\.$/m)
      assert.equal(result.stderr, 'error: 11 rows were refused\n')
      const report = readFileSync(reportPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { line: number; email?: string; field?: string; reason: string })
      assert.deepEqual(
        report.map((r) => [r.line, r.field]),
        [
          [2, 'roles'],
          [3, 'passwordHash'],
          [4, 'passwordHash'],
          [5, 'last_login'],
          [6, 'email'],
          [7, 'age'],
          [8, 'passwordHash'],
          [9, undefined],
          [10, undefined],
          [11, 'email'],
          [12, 'isActive'],
        ],
      )
      assert.match(report[0]!.reason, /no role named 'nosuchrole'/)
      assert.match(report[2]!.reason, /argon2i hashes are not supported/)
      assert.match(report[8]!.reason, /not a JSON object/)
      assert.match(report[9]!.reason, /the same address as line 1/)
      for (const r of report)
        assert.doesNotMatch(JSON.stringify(r), /\$2y\$|hunter2/, 'no hash in the report')
      // The row refused for its second role was rolled back whole: no user without the rest of its row.
      assert.equal(await service().getUserBy({ email: 'norole@example.com' }), null)
      assert.equal(await count(database, 'users'), usersBefore + 2)
    })

    it('refuses a CSV header with an unknown column before writing anything (exit code 2)', async () => {
      const usersBefore = await count(database, 'users')
      const csv = `email,password_hash,last_login\nhdr@example.com,${hashes.bcrypt2b},2024-01-01\n`
      const result = await run('import', file('bad-header.csv', csv))
      assert.equal(result.code, 2)
      assert.match(result.stderr, /no field for the column 'last_login'/)
      assert.equal(result.stdout, '')
      assert.equal(await count(database, 'users'), usersBefore)
    })

    it('refuses a missing file and an unknown format as usage errors', async () => {
      const missing = await run('import', join(dir, 'missing.jsonl'))
      assert.equal(missing.code, 2)
      assert.match(missing.stderr, /no file at/)
      const unknown = await run('import', file('users.txt', '{}\n'))
      assert.equal(unknown.code, 2)
      assert.match(unknown.stderr, /--format jsonl\|csv/)
      const forced = await run('import', join(dir, 'users.txt'), '--format', 'jsonl')
      assert.equal(forced.code, 1)
      assert.match(forced.stderr, /line 1: email: email is required/)
      // A hostile key cannot send escape sequences to the operator's terminal.
      const hostile = await run('import', file('hostile.jsonl', jsonl([{ '\u001b[2Jx': 1 }])))
      assert.equal(hostile.code, 1)
      assert.match(hostile.stderr, /unknown field '\\u001b\[2Jx'/)
      assert.ok(!hostile.stderr.includes('\u001b'))
    })

    it('keeps integer ids, and users added afterwards get ids after them', async () => {
      const integer = await createTestDatabase(name)
      try {
        const env = { DATABASE_URL: integer.url }
        assert.equal((await runCliProcess(['migrate', '--id-type', 'integer'], { env })).code, 0)
        const rows = [
          { id: 41, email: 'first@example.com', password_hash: hashes.bcrypt2b },
          { id: '42', email: 'second@example.com', password_hash: hashes.bcrypt2b },
        ]
        const result = await runCliProcess(['import', file('ids.jsonl', jsonl(rows))], { env })
        assert.equal(result.code, 0, result.stderr)
        const users = new BaseUserService({
          secret: SECRET,
          ...createKyselyRepositories(integer.db, { idType: 'integer' }),
        })
        assert.equal((await users.getUserBy({ email: 'second@example.com' }))?.id, 42)
        const added = await users.addUser({ email: 'later@example.com', password: PASSWORD })
        assert.ok(Number(added.id) > 42, `new id ${added.id} comes after the imported ones`)
      } finally {
        await integer.destroy()
      }
    })

    if (name === 'sqlite') {
      it('draws a progress line on stderr when it is a terminal, and clears it before the summary', async () => {
        const rows = Array.from({ length: 50 }, (_, i) => ({
          email: `tty${i}@example.com`,
          password_hash: hashes.bcrypt2b,
        }))
        rows.push({ email: 'tty-bad@example.com', password_hash: 'plain' })
        let stdout = ''
        let stderr = ''
        const code = await runCli(
          ['node', 'fastify-users', 'import', file('tty.jsonl', jsonl(rows)), '--database-url', database.url],
          {
            stdin: process.stdin,
            stdout: { write: (text: string) => (stdout += text) },
            stderr: Object.assign({ write: (text: string) => (stderr += text) }, { isTTY: true }),
          },
        )
        assert.equal(code, 1)
        assert.match(stdout, /^Imported 50 users, 0 skipped \(already there\), 1 refused\.$/m)
        const clear = '\r\x1b[K'
        const lines = stderr.split(clear)
        assert.ok(lines.length > 2, 'the line is drawn and cleared')
        assert.match(lines[1]!, /^\d+% {2}\d+ rows: \d+ imported, 0 skipped, 0 refused$/)
        // The refusal is printed on a cleared line, not glued to the progress line.
        assert.ok(stderr.includes(`${clear}line 51: passwordHash: not a password hash`))
        assert.ok(stderr.endsWith('error: 1 row was refused\n'))
      })

      it('streams a 10,000-row file', async () => {
        const lines: string[] = []
        for (let i = 0; i < 10_000; i++) {
          lines.push(JSON.stringify({ email: `bulk${i}@example.com`, password_hash: hashes.bcrypt2b }))
        }
        const usersBefore = await count(database, 'users')
        const result = await runCliProcess(['import', file('bulk.jsonl', `${lines.join('\n')}\n`)], {
          env: { DATABASE_URL: database.url, NODE_OPTIONS: '--max-old-space-size=64' },
          timeoutMs: 180_000,
        })
        assert.equal(result.code, 0, result.stderr)
        assert.equal(result.stderr, '', 'no progress line when stderr is not a terminal')
        assert.match(result.stdout, /^Imported 10000 users, 0 skipped/m)
        assert.equal(await count(database, 'users'), usersBefore + 10_000)
      })
    }
  })
}
