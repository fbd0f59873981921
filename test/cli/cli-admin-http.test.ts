/**
 * The CLI and the plugin on one database: an admin made with the built binary (`create-user`,
 * `create-role admin`, `assign-role`) logs in over HTTP and uses an admin route; what the CLI changes
 * later (revoking the role, deleting the user) takes effect on the application's next request.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyUsers } from '../../src/fastify/index.js'
import { createTestDatabase, type TestDatabase, testDialects } from '../helpers/databases.js'
import { assertBuilt, type CliRun, runCliProcess } from './cli-process.js'

const SECRET = 'cli-http-test-secret-0123456789-abcdefghijkl'
const PASSWORD = 'correct horse battery staple'

before(() => assertBuilt())

function expectOk(run: CliRun): void {
  assert.equal(run.code, 0, `exit code 0 expected; stderr: ${run.stderr}`)
}

for (const { name, skip } of testDialects) {
  describe(`an admin made with the CLI uses the admin routes (${name})`, { skip }, () => {
    let database: TestDatabase<unknown>
    let app: FastifyInstance
    let cli: (...args: string[]) => Promise<CliRun>

    before(async () => {
      database = await createTestDatabase(name)
      cli = (...args) => runCliProcess(args, { env: { DATABASE_URL: database.url } })
      expectOk(await cli('migrate'))
      expectOk(await cli('create-user', '--email', 'Root@Example.com', '--password', PASSWORD, '--verified'))
      expectOk(await cli('create-role', 'admin'))
      expectOk(await cli('assign-role', '--email', 'root@example.com', '--role', 'admin'))
      expectOk(await cli('create-user', '--email', 'plain@example.com', '--password', PASSWORD, '--verified'))

      // The application: the same database, by the same URL the CLI was given.
      app = Fastify()
      await app.register(fastifyUsers, { secret: SECRET, database: database.url, authBackend: 'jwt' })
      await app.ready()
    })
    after(async () => {
      await app?.close()
      await database?.destroy()
    })

    async function login(email: string): Promise<string> {
      const response = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email, password: PASSWORD },
      })
      assert.equal(response.statusCode, 200, response.body)
      const body = response.json<{
        email: string
        accessToken: string
        tokenType: string
        roles: { name: string }[]
      }>()
      assert.equal(body.tokenType, 'Bearer')
      assert.equal(body.email, email)
      return body.accessToken
    }

    const listUsers = (token: string) =>
      app.inject({ method: 'GET', url: '/users', headers: { authorization: `Bearer ${token}` } })

    it('the admin logs in over HTTP and lists the users', async () => {
      const token = await login('root@example.com')
      const response = await listUsers(token)
      assert.equal(response.statusCode, 200, response.body)
      const body = response.json<{ items: { email: string; roles: { name: string }[] }[]; total: number }>()
      assert.equal(body.total, 2)
      assert.deepEqual(body.items.map((u) => [u.email, u.roles.map((r) => r.name)]).sort(), [
        ['plain@example.com', []],
        ['root@example.com', ['admin']],
      ])
    })

    it('a user without the role is refused (403)', async () => {
      const token = await login('plain@example.com')
      assert.equal((await listUsers(token)).statusCode, 403)
    })

    it('revoke-role takes effect on the next request; delete-user ends the credentials', async () => {
      const token = await login('root@example.com')
      assert.equal((await listUsers(token)).statusCode, 200)
      // root is the last admin: the CLI refuses without --force, like the web API, and does it with it.
      assert.match(
        (await cli('revoke-role', '--email', 'root@example.com', '--role', 'admin')).stderr,
        /ERR_LAST_ADMIN/,
      )
      assert.equal((await listUsers(token)).statusCode, 200)
      expectOk(await cli('revoke-role', '--email', 'root@example.com', '--role', 'admin', '--force'))
      assert.equal((await listUsers(token)).statusCode, 403)

      expectOk(await cli('delete-user', '--email', 'root@example.com'))
      assert.equal((await listUsers(token)).statusCode, 401)
      const response = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'root@example.com', password: PASSWORD },
      })
      assert.equal(response.statusCode, 401)
    })
  })
}
