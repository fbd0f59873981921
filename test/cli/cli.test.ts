/**
 * The `fastify-users` CLI, as shipped: the built binary runs in a subprocess against a fresh database of
 * every dialect (SQLite always; PostgreSQL and MySQL when their URLs are set, always in CI). Every write is
 * checked from another connection, which sees only committed data, and every refusal is checked to have
 * changed nothing.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { BaseUserService } from '../../src/index.js'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { assertBuilt, CLI_BIN, type CliRun, runCliProcess } from './cli-process.js'

const PASSWORD = 'correct horse battery staple'
const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop'

before(() => assertBuilt())

async function count(database: TestDatabase<unknown>, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    database.db,
  )
  return Number(rows[0]?.n)
}

function expectOk(run: CliRun, stdout?: RegExp): void {
  assert.equal(run.code, 0, `exit code 0 expected; stderr: ${run.stderr}`)
  assert.equal(run.stderr, '')
  if (stdout) assert.match(run.stdout, stdout)
}

function expectFailure(run: CliRun, code: number, stderr: RegExp): void {
  assert.equal(run.code, code, `exit code ${code} expected; stdout: ${run.stdout}; stderr: ${run.stderr}`)
  assert.match(run.stderr, stderr)
  assert.equal(run.stdout, '', 'nothing on stdout when a command fails')
}

for (const { name, skip } of testDialects) {
  describe(`fastify-users CLI on ${name}`, { skip }, () => {
    let database: TestDatabase<unknown>
    let run: (...args: string[]) => Promise<CliRun>

    before(async () => {
      database = await createTestDatabase(name)
      run = (...args) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
    })
    after(() => database?.destroy())

    const service = () => new BaseUserService({ secret: SECRET, ...createKyselyRepositories(database.db) })

    it('refuses to work on a database that was never migrated', async () => {
      expectFailure(await run('list-users'), 1, /no fastify-users tables; run `fastify-users migrate` first/)
    })

    it('migrate creates the tables; a second run has nothing to do', async () => {
      expectOk(
        await run('migrate'),
        /Applied \d+ migration\(s\) .*\(uuid ids\): 0001-initial, 0002-login-attempts/,
      )
      expectOk(await run('migrate'), /Nothing to do/)
      assert.equal(await count(database, 'users'), 0)
    })

    it('create-user creates a verified user whose password logs in', async () => {
      const created = await runCliProcess(
        [
          'create-user',
          '--database-url',
          database.url,
          '--email',
          'Ada.Admin@Example.com',
          '--password',
          PASSWORD,
          '--verified',
        ],
        {},
      )
      expectOk(created, /^Created user ada\.admin@example\.com \(id [0-9a-f-]{36}; active, verified\)\.\n$/)
      const user = await service().authenticate({ email: 'ada.admin@example.com', password: PASSWORD })
      assert.ok(user, 'the password set by the CLI logs in through the service')
      assert.equal(user.isVerified, true)
      assert.equal(user.isActive, true)
      assert.match(user.passwordHash, /^\$argon2id\$/)
    })

    it('refuses a duplicate email, whatever its case, and changes nothing', async () => {
      expectFailure(
        await run('create-user', '--email', 'ADA.ADMIN@example.COM', '--password', PASSWORD),
        1,
        /a user with this email already exists/,
      )
      assert.equal(await count(database, 'users'), 1)
    })

    it('refuses a password the policy refuses, and an invalid email, changing nothing', async () => {
      expectFailure(
        await run('create-user', '--email', 'short@example.com', '--password', 'short'),
        1,
        /at least 8 characters/,
      )
      expectFailure(
        await run('create-user', '--email', 'not-an-email', '--password', PASSWORD),
        1,
        /not a valid email address/,
      )
      assert.equal(await count(database, 'users'), 1)
    })

    it('refuses to prompt for a password when stdin is not a terminal', async () => {
      expectFailure(await run('create-user', '--email', 'bob@example.com'), 2, /no password: pass --password/)
      assert.equal(await count(database, 'users'), 1)
    })

    it('reads the password from a pipe with --password-stdin', async () => {
      const created = await runCliProcess(['create-user', '--email', 'bob@example.com', '--password-stdin'], {
        env: { DATABASE_URL: database.url },
        input: `${PASSWORD}\n`,
      })
      expectOk(created, /Created user bob@example\.com .*active, unverified/)
      // Refused as unverified only after the password was found correct.
      await assert.rejects(service().authenticate({ email: 'bob@example.com', password: PASSWORD }), {
        code: 'ERR_NOT_VERIFIED',
      })
    })

    it('create-role creates a role; a duplicate name is refused', async () => {
      expectOk(
        await run('create-role', 'admin', '--description', 'Manages users'),
        /^Created role admin \(id .+\)\.\n$/,
      )
      expectFailure(await run('create-role', '--name', 'ADMIN'), 1, /a role named 'admin' already exists/)
      assert.equal(await count(database, 'roles'), 1)
      expectFailure(await run('create-role'), 2, /give the role name once/)
    })

    it('assign-role gives the role, committed; assigning it again is refused', async () => {
      expectOk(
        await run('assign-role', '--email', 'ADA.admin@example.com', '--role', 'Admin'),
        /^Assigned role admin to ada\.admin@example\.com\.\n$/,
      )
      // Another connection sees the link: it was committed (litestar-users' assign-role never commits).
      const ada = await service().getUserBy({ email: 'ada.admin@example.com' })
      assert.deepEqual(
        ada?.roles.map((r) => r.name),
        ['admin'],
      )
      expectFailure(
        await run('assign-role', '--email', 'ada.admin@example.com', '--role', 'admin'),
        1,
        /already has the role 'admin'/,
      )
      assert.equal(await count(database, 'user_roles'), 1)
    })

    it('list-users --json lists users with their roles and never a password hash', async () => {
      const listed = await run('list-users', '--json')
      expectOk(listed)
      const body = JSON.parse(listed.stdout) as {
        items: { id: string; email: string; roles: { name: string }[]; isVerified: boolean }[]
        total: number
      }
      assert.equal(body.total, 2)
      assert.deepEqual(
        body.items.map((u) => [u.email, u.roles.map((r) => r.name), u.isVerified]),
        [
          ['ada.admin@example.com', ['admin'], true],
          ['bob@example.com', [], false],
        ],
      )
      assert.ok(!listed.stdout.includes('passwordHash') && !listed.stdout.includes('$argon2'))

      const admins = JSON.parse((await run('list-users', '--json', '--role', 'admin')).stdout) as typeof body
      assert.deepEqual(
        admins.items.map((u) => u.email),
        ['ada.admin@example.com'],
      )
      const bobs = JSON.parse((await run('list-users', '--json', '--email', 'BOB@')).stdout) as typeof body
      assert.deepEqual(
        bobs.items.map((u) => u.email),
        ['bob@example.com'],
      )
    })

    it('list-users prints a table', async () => {
      const listed = await run('list-users')
      expectOk(listed)
      const lines = listed.stdout.trimEnd().split('\n')
      assert.match(lines[0]!, /^ID\s+EMAIL\s+ACTIVE\s+VERIFIED\s+ROLES\s+PROVIDERS\s+CREATED$/)
      assert.match(
        lines[1]!,
        /^[0-9a-f-]{36}\s+ada\.admin@example\.com\s+yes\s+yes\s+admin\s+-\s+\d{4}-\d\d-\d\dT/,
      )
      assert.match(lines[2]!, /^[0-9a-f-]{36}\s+bob@example\.com\s+yes\s+no\s+-\s+/)
      assert.equal(lines[3], '2 users.')
      const paged = await run('list-users', '--limit', '1')
      assert.match(paged.stdout, /Users 1 to 1 of 2; next page: --offset 1\./)
      expectOk(await run('list-users', '--role', 'nobody-has-this'), /^No users\.\n$/)
    })

    it('revoke-role takes the role (the last admin only with --force); revoking it again is refused', async () => {
      // Ada is the last active admin: the operator must say --force, or the application loses its admin.
      expectFailure(
        await run('revoke-role', '--email', 'ada.admin@example.com', '--role', 'admin'),
        1,
        /no active administrator/,
      )
      assert.equal(await count(database, 'user_roles'), 1)
      expectOk(
        await run('revoke-role', '--email', 'ada.admin@example.com', '--role', 'admin', '--force'),
        /^Revoked role admin from ada\.admin@example\.com\.\n$/,
      )
      assert.equal(await count(database, 'user_roles'), 0)
      expectFailure(
        await run('revoke-role', '--email', 'ada.admin@example.com', '--role', 'admin'),
        1,
        /does not have the role 'admin'/,
      )
    })

    it('names the unknown user or role, and changes nothing', async () => {
      expectFailure(
        await run('assign-role', '--email', 'nobody@example.com', '--role', 'admin'),
        1,
        /no user with the email 'nobody@example\.com'/,
      )
      expectFailure(
        await run('assign-role', '--email', 'bob@example.com', '--role', 'ghost'),
        1,
        /no role named 'ghost'/,
      )
      expectFailure(
        await run('assign-role', '--user-id', '00000000-0000-7000-8000-000000000000', '--role', 'admin'),
        1,
        /no user with the id/,
      )
      expectFailure(await run('delete-user', '--id', '42'), 1, /'42' is not a user id of this database/)
      expectFailure(await run('delete-user', '--email', 'nobody@example.com'), 1, /no user with the email/)
      expectFailure(await run('assign-role', '--role', 'admin'), 2, /exactly one of --email or --user-id/)
      assert.equal(await count(database, 'users'), 2)
      assert.equal(await count(database, 'user_roles'), 0)
    })

    it('delete-user deletes the user with their roles', async () => {
      expectOk(await run('assign-role', '--email', 'bob@example.com', '--role', 'admin'))
      const bob = await service().getUserBy({ email: 'bob@example.com' })
      expectFailure(await run('delete-user', '--id', String(bob?.id)), 1, /no active administrator/)
      expectOk(
        await run('delete-user', '--id', String(bob?.id), '--force'),
        /^Deleted user bob@example\.com \(id .+\)\.\n$/,
      )
      assert.equal(await service().getUserBy({ email: 'bob@example.com' }), null)
      assert.equal(await count(database, 'users'), 1)
      assert.equal(await count(database, 'user_roles'), 0)
      const deleted = await run('delete-user', '--email', 'ada.admin@example.com', '--json')
      expectOk(deleted)
      assert.equal((JSON.parse(deleted.stdout) as { email: string }).email, 'ada.admin@example.com')
      assert.equal(await count(database, 'users'), 0)
    })
  })

  describe(`fastify-users CLI on ${name}: integer ids and custom fields`, { skip }, () => {
    let database: TestDatabase<unknown>
    let run: (...args: string[]) => Promise<CliRun>

    before(async () => {
      database = await createTestDatabase(name)
      run = (...args) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
    })
    after(() => database?.destroy())

    it('migrates with integer ids and keeps them', async () => {
      expectOk(await run('migrate', '--id-type', 'integer'), /\(integer ids\)/)
      expectFailure(await run('migrate', '--id-type', 'uuid'), 1, /already use integer ids/)
      expectOk(await run('migrate'), /Nothing to do/)
      // The application's own migration: its custom columns.
      await database.db.schema.alterTable('users').addColumn('display_name', 'varchar(100)').execute()
      await database.db.schema.alterTable('users').addColumn('age', 'integer').execute()
      await database.db.schema
        .alterTable('users')
        .addColumn('newsletter', 'boolean', (c) => c.notNull().defaultTo(false))
        .execute()
      await database.db.schema
        .alterTable('users')
        .addColumn('score', name === 'mysql' ? 'double precision' : 'real')
        .execute()
    })

    it('create-user writes typed custom fields, found by introspection', async () => {
      const created = await run(
        'create-user',
        '--email',
        'grace@example.com',
        '--password',
        PASSWORD,
        '--str-attrs',
        'displayName=Grace Hopper',
        '-i',
        'age=85',
        '--bool-attrs',
        'newsletter=yes',
        '--float-attrs',
        'score=1.5',
        '--json',
      )
      expectOk(created)
      const user = JSON.parse(created.stdout) as Record<string, unknown>
      assert.equal(user.id, 1)
      assert.equal(user.email, 'grace@example.com')
      assert.equal(user.displayName, 'Grace Hopper')
      assert.equal(user.age, 85)
      assert.equal(user.newsletter, true)
      assert.equal(user.score, 1.5)
      assert.equal(user.passwordHash, undefined)

      const { rows } = await sql<{
        display_name: string
        age: number
      }>`select display_name, age from users where email = 'grace@example.com'`.execute(database.db)
      assert.deepEqual(
        rows.map((r) => [r.display_name, Number(r.age)]),
        [['Grace Hopper', 85]],
      )
    })

    it('snake_case keys work too; unknown fields, built-in fields and wrong types are refused', async () => {
      expectOk(
        await run(
          'create-user',
          '--email',
          'alan@example.com',
          '--password',
          PASSWORD,
          '-s',
          'display_name=Alan',
        ),
      )
      expectFailure(
        await run('create-user', '--email', 'x@example.com', '--password', PASSWORD, '-s', 'nickname=X'),
        1,
        /no column for 'nickname'; its custom fields are: displayName \(string\), age \(integer\), newsletter \(boolean\), score \(number\)/,
      )
      expectFailure(
        await run('create-user', '--email', 'x@example.com', '--password', PASSWORD, '-s', 'isActive=yes'),
        1,
        /'isActive' is a built-in field/,
      )
      expectFailure(
        await run('create-user', '--email', 'x@example.com', '--password', PASSWORD, '-s', 'age=old'),
        1,
        /age must be of type integer/,
      )
      expectFailure(
        await run('create-user', '--email', 'x@example.com', '--password', PASSWORD, '-i', 'age=old'),
        2,
        /'age' must be an integer/,
      )
      expectFailure(
        await run(
          'create-user',
          '--email',
          'x@example.com',
          '--password',
          PASSWORD,
          '-b',
          'newsletter=maybe',
        ),
        2,
        /must be true or false/,
      )
      assert.equal(await count(database, 'users'), 2)
    })

    it('roles and users by id', async () => {
      expectOk(await run('create-role', 'editor'), /\(id 1\)/)
      expectOk(
        await run('assign-role', '--user-id', '2', '--role-id', '1'),
        /Assigned role editor to alan@example\.com/,
      )
      expectFailure(
        await run('assign-role', '--user-id', '99', '--role-id', '1'),
        1,
        /no user with the id '99'/,
      )
      expectFailure(
        await run('assign-role', '--user-id', '2', '--role-id', '99'),
        1,
        /no role with the id '99'/,
      )
      const listed = JSON.parse((await run('list-users', '--json', '--role', 'editor')).stdout) as {
        items: { id: number; displayName: string; newsletter: boolean }[]
      }
      assert.deepEqual(listed.items, [{ ...listed.items[0], id: 2, displayName: 'Alan', newsletter: false }])
      const table = await run('list-users')
      assert.match(table.stdout.split('\n')[0]!, /CREATED\s+DISPLAY_NAME\s+AGE\s+NEWSLETTER\s+SCORE$/)
      expectOk(await run('delete-user', '--id', '2'), /Deleted user alan@example\.com \(id 2\)/)
    })

    if (name !== 'sqlite') {
      // SQLite cannot add a NOT NULL column without a default to an existing table.
      it('asks for a required custom column by name before inserting', async () => {
        // PostgreSQL refuses a NOT NULL column without a default while rows exist.
        await sql`delete from users`.execute(database.db)
        await database.db.schema
          .alterTable('users')
          .addColumn('team', 'varchar(20)', (c) => c.notNull())
          .execute()
        expectFailure(
          await run('create-user', '--email', 'y@example.com', '--password', PASSWORD),
          1,
          /requires team \(string\); pass --str-attrs team=\.\.\./,
        )
        expectOk(
          await run('create-user', '--email', 'y@example.com', '--password', PASSWORD, '-s', 'team=blue'),
        )
      })
    }
  })
}

describe('fastify-users CLI: usage and unreachable databases', () => {
  const commands = [
    'migrate',
    'create-user',
    'create-role',
    'assign-role',
    'revoke-role',
    'list-users',
    'delete-user',
    'sessions',
    'end-sessions',
  ]

  it('has --help on every command', async () => {
    const top = await runCliProcess(['--help'])
    expectOk(top, /Usage: fastify-users/)
    expectOk(await runCliProcess(['--version']), /^\d+\.\d+\.\d+/)
    for (const command of commands) {
      assert.match(top.stdout, new RegExp(`\\b${command}\\b`))
      const help = await runCliProcess([command, '--help'])
      expectOk(help, new RegExp(`Usage: fastify-users ${command}`))
      assert.match(help.stdout, /--database-url <url>.*\n?.*\(env: DATABASE_URL\)|env: DATABASE_URL/)
    }
  })

  it('exits 2 on usage errors', async () => {
    expectFailure(await runCliProcess(['frobnicate']), 2, /unknown command 'frobnicate'/)
    expectFailure(await runCliProcess(['list-users', '--frob']), 2, /unknown option '--frob'/)
    expectFailure(await runCliProcess(['list-users', '--limit', 'lots']), 2, /--limit/)
    expectFailure(await runCliProcess(['create-user', '--password', PASSWORD]), 2, /--email/)
    expectFailure(
      await runCliProcess(['list-users']),
      2,
      /no database: pass --database-url or set DATABASE_URL/,
    )
  })

  it('says why when the database is unreachable', async () => {
    expectFailure(
      await runCliProcess(['list-users', '--database-url', 'postgres://nobody@127.0.0.1:1/x']),
      1,
      /Cannot connect to postgres:\/\/nobody@127\.0\.0\.1:1\/x: .*ECONNREFUSED/,
    )
    expectFailure(
      await runCliProcess(['create-user', '--email', 'a@example.com', '--password', PASSWORD], {
        env: { DATABASE_URL: 'mysql://nobody:hunter22@127.0.0.1:1/x' },
      }),
      1,
      /Cannot connect to mysql:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/x/,
    )
    expectFailure(
      await runCliProcess(['migrate', '--database-url', 'redis://x']),
      1,
      /Unsupported database URL/,
    )
  })

  it('does not create a SQLite file for any command but migrate', async () => {
    const file = join(tmpdir(), `fu_cli_missing_${process.pid}.db`)
    expectFailure(
      await runCliProcess(['list-users', '--database-url', `sqlite://${file}`]),
      1,
      /no SQLite database at/,
    )
    assert.equal(existsSync(file), false)
  })
})

/** Whether util-linux `script` can give the CLI a real pseudo-terminal. */
function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`

/**
 * Runs the CLI on a pseudo-terminal through `script`, answering each prompt when it appears. Returns
 * everything the terminal showed.
 */
function runInTerminal(
  args: string[],
  env: Record<string, string>,
  answers: string[],
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI_BIN, ...args].map(quote).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let screen = ''
    let answered = 0
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk
      // Answer a prompt only once it is on screen: by then readline has put the terminal in raw mode, so
      // nothing typed is echoed by the terminal either.
      const prompts = screen.match(/(Repeat password|Password): /g)?.length ?? 0
      while (answered < prompts && answered < answers.length) child.stdin.write(answers[answered++]!)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      child.stdin.destroy()
      resolve({ code, screen })
    })
  })
}

describe('fastify-users CLI: hidden password prompt on a real terminal', {
  skip: !hasScript() && 'util-linux `script` is not installed',
}, () => {
  let database: TestDatabase<unknown>
  let env: Record<string, string>
  before(async () => {
    database = await createTestDatabase('sqlite')
    env = { DATABASE_URL: database.url }
    expectOk(await runCliProcess(['migrate'], { env }))
  })
  after(() => database?.destroy())

  it('asks twice without echoing, and the password works', async () => {
    const secret = 'typed in the dark 42'
    const { code, screen } = await runInTerminal(
      ['create-user', '--email', 'tty@example.com', '--verified'],
      env,
      [`${secret}\r`, `${secret}\r`],
    )
    assert.equal(code, 0, screen)
    assert.match(screen, /Password: [\s\S]*Repeat password: [\s\S]*Created user tty@example\.com/)
    assert.ok(!screen.includes(secret), 'the password never appears on the terminal')
    assert.ok(!screen.includes('*'), 'not even as asterisks')
    const service = new BaseUserService({ secret: SECRET, ...createKyselyRepositories(database.db) })
    assert.ok(await service.authenticate({ email: 'tty@example.com', password: secret }))
  })

  it('refuses when the two entries differ, and creates nothing', async () => {
    const { code, screen } = await runInTerminal(
      ['create-user', '--email', 'typo@example.com'],
      { ...env, TERM: 'dumb' },
      ['first try 123\r', 'second try 123\r'],
    )
    assert.equal(code, 1, screen)
    assert.match(screen, /error: the passwords do not match/)
    assert.ok(!screen.includes('try 123'))
    assert.equal(await count(database, 'users'), 1)
  })

  it('refuses --password-stdin on a terminal, where the line would be echoed', async () => {
    const { code, screen } = await runInTerminal(
      ['create-user', '--email', 'echo@example.com', '--password-stdin'],
      env,
      [],
    )
    assert.equal(code, 2, screen)
    assert.match(screen, /--password-stdin reads a pipe/)
  })

  it('exits 130 on Ctrl-C at the prompt', async () => {
    const { code, screen } = await runInTerminal(['create-user', '--email', 'quit@example.com'], env, [
      '\x03',
    ])
    assert.equal(code, 130, screen)
    assert.match(screen, /error: cancelled/)
    assert.equal(await count(database, 'users'), 1)
  })
})
