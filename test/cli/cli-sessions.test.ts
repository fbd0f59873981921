/**
 * `fastify-users sessions` and `end-sessions`, as shipped (the built binary in a subprocess), on every
 * database: the list, ending one session, refusing another user's session id without changing anything,
 * and logging a user out everywhere.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { refreshFamilyDenyKey } from '../../src/core/refresh-families.js'
import { RefreshTokens } from '../../src/core/refresh-tokens.js'
import { BaseUserService, type Id } from '../../src/index.js'
import { createKyselyRepositories } from '../../src/persistence/kysely/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { assertBuilt, type CliRun, runCliProcess } from './cli-process.js'

const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'

before(() => assertBuilt())

function expectOk(run: CliRun): string {
  assert.equal(run.code, 0, `exit code 0 expected; stderr: ${run.stderr}`)
  assert.equal(run.stderr, '')
  return run.stdout
}

for (const { name, skip } of testDialects) {
  describe(`fastify-users sessions and end-sessions on ${name}`, { skip }, () => {
    let database: TestDatabase<unknown>
    let run: (...args: string[]) => Promise<CliRun>
    let service: BaseUserService

    before(async () => {
      database = await createTestDatabase(name)
      run = (...args) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
      expectOk(await run('migrate'))
      service = new BaseUserService({ secret: SECRET, ...createKyselyRepositories(database.db) })
    })
    after(() => database?.destroy())

    const login = async (userId: Id) => {
      const user = await service.getUser(userId)
      const now = Date.now()
      await service.sessionRepository?.create({
        id: randomBytes(32).toString('hex'),
        userId: user.id,
        authVersion: user.authVersion,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 86_400_000,
        ip: '203.0.113.7',
        userAgent: FIREFOX,
      })
    }
    const ids = async (email: string) => {
      const out = expectOk(await run('sessions', '--email', email, '--json'))
      return (JSON.parse(out) as { sessions: Array<{ id: string }> }).sessions.map((s) => s.id)
    }

    it('lists, ends one, refuses a session of someone else, and logs out everywhere', async () => {
      const ada = await service.addUser({
        email: 'ada@example.com',
        password: 'correct horse battery staple',
      })
      const eve = await service.addUser({
        email: 'eve@example.com',
        password: 'correct horse battery staple',
      })
      await login(ada.id)
      await login(ada.id)
      await login(eve.id)
      const table = expectOk(await run('sessions', '--email', 'ada@example.com'))
      assert.match(table, /^ID\s+KIND\s+CREATED\s+LAST SEEN\s+IP\s+DEVICE\n/)
      assert.match(table, /s_[A-Za-z0-9_-]{22} +session .* 203\.0\.113\.7 +Firefox on Linux\n/)
      const [first, second] = await ids('ada@example.com')
      assert.ok(first && second)
      const [eveSession] = await ids('eve@example.com')

      const refused = await run('end-sessions', '--email', 'ada@example.com', '--session', String(eveSession))
      assert.equal(refused.code, 1, refused.stderr)
      assert.match(refused.stderr, /session not found/)
      assert.equal((await ids('eve@example.com')).length, 1)
      assert.equal((await ids('ada@example.com')).length, 2)

      assert.match(
        expectOk(await run('end-sessions', '--email', 'ada@example.com', '--session', first)),
        /^Ended session s_\S+ of ada@example\.com\.\n$/,
      )
      assert.deepEqual(await ids('ada@example.com'), [second])

      const version = (await service.getUser(ada.id)).authVersion
      assert.equal(
        expectOk(await run('end-sessions', '--id', String(ada.id))),
        'Logged ada@example.com out everywhere.\n',
      )
      assert.deepEqual(await ids('ada@example.com'), [])
      assert.equal((await service.getUser(ada.id)).authVersion, version + 1, 'JWTs end too')
      assert.equal((await ids('eve@example.com')).length, 1)
      assert.equal(
        expectOk(await run('sessions', '--email', 'ada@example.com')),
        'ada@example.com has no sessions.\n',
      )
    })

    it('lists and ends refresh-token families of the JWT backends', async () => {
      const grace = await service.addUser({
        email: 'grace@example.com',
        password: 'correct horse battery staple',
      })
      const refresh = new RefreshTokens({
        store: service.refreshTokenStore!,
        users: service.userRepository,
        clock: service.clock,
        logger: service.logger,
        parseId: (id) => service.parseId(id),
        isUsable: (user, version) => user.isActive && user.authVersion === version,
        notifyReuse: () => {},
      })
      const issued = await refresh.issue(grace, { ip: '198.51.100.9', userAgent: FIREFOX })
      await login(grace.id)
      const table = expectOk(await run('sessions', '--email', 'grace@example.com'))
      assert.match(table, /r_[A-Za-z0-9_-]{22} +refresh .* 198\.51\.100\.9 +Firefox on Linux\n/)
      const family = (await ids('grace@example.com')).find((id) => id.startsWith('r_'))
      assert.ok(family)
      assert.match(
        expectOk(await run('end-sessions', '--email', 'grace@example.com', '--session', family)),
        /^Ended session r_\S+ of grace@example\.com\.\n$/,
      )
      assert.equal(await refresh.rotate(issued.token, {}), null, 'its refresh token is refused')
      assert.ok(
        await service.tokenDenylist!.has(refreshFamilyDenyKey(issued.familyId)),
        'its access tokens are denied',
      )
      assert.deepEqual(
        (await ids('grace@example.com')).map((id) => id.slice(0, 2)),
        ['s_'],
        'the login session stays',
      )
    })
  })
}
