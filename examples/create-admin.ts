/**
 * Makes a verified admin, with the user service and no HTTP: fastify-users creates no default account
 * (no `admin/admin` on a fresh install), so the first admin is made on purpose, like this or with the CLI.
 *
 *   DATABASE_URL=sqlite:data/demo.db ADMIN_PASSWORD='a long passphrase' npx tsx examples/create-admin.ts admin@example.com
 *
 * Without `ADMIN_PASSWORD`, a random password is generated and printed once. An existing user keeps their
 * password and only gets the role. In an application, import from `fastify-users` and
 * `fastify-users/kysely` instead of `../src/...`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { BaseUserService } from '../src/index.js'
import {
  connectDatabase,
  createKyselyRepositories,
  migrateToLatest,
} from '../src/persistence/kysely/index.js'

const email = process.argv[2]
if (!email) {
  console.error('usage: DATABASE_URL=... [ADMIN_PASSWORD=...] npx tsx examples/create-admin.ts <email>')
  process.exit(2)
}
const generated = process.env.ADMIN_PASSWORD ? undefined : randomBytes(18).toString('base64url')
const password = process.env.ADMIN_PASSWORD ?? generated!

const { db, url } = await connectDatabase(process.env.DATABASE_URL ?? 'sqlite:data/demo.db')
try {
  await migrateToLatest(db)
  const service = new BaseUserService({
    // This script signs no token, so any secret will do; the app's USERS_SECRET is used when set.
    secret: process.env.USERS_SECRET ?? randomBytes(32).toString('base64url'),
    ...createKyselyRepositories(db),
  })

  const role = (await service.getRoleByName('admin')) ?? (await service.addRole({ name: 'admin' }))
  let user = await service.getUserBy({ email })
  const created = user === null
  user ??= await service.addUser({ email, password }, { verify: true })
  if (!user.roles.some((r) => r.id === role.id)) user = await service.assignRole(user.id, role.id)

  console.log(`${user.email} is an admin (${created ? 'new user, verified' : 'existing user'}) in ${url}`)
  if (created && generated) console.log(`password (shown once): ${generated}`)
} finally {
  await db.destroy()
}
