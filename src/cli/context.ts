/**
 * What every command shares: the `--database-url` option, opening and closing the database, and a user
 * service built for it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { type Command, Option } from 'commander'
import type { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import { AuthCache } from '../auth/auth-cache.js'
import { withCacheInvalidation } from '../auth/cache-invalidation.js'
import { BaseUserService } from '../core/user-service.js'
import type { PasswordSchemeName } from '../password/password-manager.js'
import { connectDatabase, type DatabaseDialect } from '../persistence/kysely/connect.js'
import { createKyselyRepositories } from '../persistence/kysely/index.js'
import { PgInvalidationBus, pgCacheChannel } from '../persistence/kysely/pg-invalidation-bus.js'
import {
  resolveTableNames,
  type TableNames,
  type TableNamesOption,
} from '../persistence/kysely/table-names.js'
import { createRedisStores } from '../persistence/redis/index.js'
import { createRedisClient, isRedisUrl } from '../persistence/redis/redis-client.js'
import { RedisInvalidationBus, redisCacheChannel } from '../persistence/redis/redis-invalidation-bus.js'
import { CliError, ExitCode } from './output.js'
import { readUserSchema, type UserSchema } from './user-schema.js'

/** The options every command that opens the database has. */
export interface DatabaseOptions {
  /** From `--database-url`, or the `DATABASE_URL` environment variable. */
  databaseUrl?: string
  /** From `--table-prefix`, or the `FASTIFY_USERS_TABLE_PREFIX` environment variable. Default: none. */
  tablePrefix?: string
  /** From `--tables` (JSON, the plugin's `tables`), or `FASTIFY_USERS_TABLES`. Default: none. */
  tables?: string
  /**
   * From `--redis`, or `FASTIFY_USERS_REDIS_URL`: the Redis the application gives the plugin's `redis`
   * option, so the CLI sees and ends the sessions kept there, writes the deny-list there, and tells the
   * running instances' caches through it. Default: none (the database holds everything).
   */
  redis?: string
  /** From `--redis-prefix`, or `FASTIFY_USERS_REDIS_PREFIX`: the plugin's `redisPrefix`. Default: `'fastify-users:'`. */
  redisPrefix?: string
}

/**
 * Adds `--database-url <url>` (falling back to `DATABASE_URL`), `--table-prefix <prefix>` (falling back
 * to `FASTIFY_USERS_TABLE_PREFIX`) and `--tables <json>` (falling back to `FASTIFY_USERS_TABLES`) to a
 * command.
 *
 * @example
 * ```ts
 * const command = withDatabaseOption(new Command('list-users'))
 * ```
 */
export function withDatabaseOption(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--database-url <url>',
        'the database: sqlite:path/to/file.db, postgres://user:pass@host/db or mysql://user:pass@host/db',
      ).env('DATABASE_URL'),
    )
    .addOption(
      new Option(
        '--table-prefix <prefix>',
        "the prefix of the fastify-users tables, as the application's `tables: { prefix }` (e.g. auth_)",
      ).env('FASTIFY_USERS_TABLE_PREFIX'),
    )
    .addOption(
      new Option(
        '--tables <json>',
        'the table names as the application\'s `tables` option, in JSON (e.g. \'{"users":"account_holders"}\')',
      ).env('FASTIFY_USERS_TABLES'),
    )
    .addOption(
      new Option(
        '--redis <url>',
        "the application's Redis (its `redis` option), when sessions and the deny-list live there",
      ).env('FASTIFY_USERS_REDIS_URL'),
    )
    .addOption(
      new Option('--redis-prefix <prefix>', "the application's `redisPrefix` (default fastify-users:)").env(
        'FASTIFY_USERS_REDIS_PREFIX',
      ),
    )
}

/** An open database. */
export interface OpenDatabase {
  db: Kysely<unknown>
  dialect: DatabaseDialect
  /** The URL with its password masked, for messages. */
  url: string
  /** The names of the fastify-users tables (from the table prefix and `--tables`). */
  tables: TableNames
  /** The same, as the option `migrateToLatest` and `createKyselyRepositories` take. */
  tableOption: TableNamesOption
}

/**
 * Opens the database, runs `use`, and closes the database whatever happens, so no pool or file handle
 * outlives the command.
 *
 * @param options.create - whether a missing SQLite file may be created (only `migrate` does). Other
 *   commands refuse, rather than leave an empty file behind for a mistyped path.
 * @throws CliError exit code 2 when no URL is given or the table prefix is invalid; 1 when the SQLite
 *   file is missing or the database cannot be reached.
 *
 * @example
 * ```ts
 * await withDatabase({ databaseUrl, create: true }, ({ db }) => migrateToLatest(db))
 * ```
 */
export async function withDatabase<T>(
  options: DatabaseOptions & { create?: boolean },
  use: (database: OpenDatabase) => Promise<T>,
): Promise<T> {
  const url = options.databaseUrl?.trim()
  if (!url) {
    throw new CliError(
      'no database: pass --database-url or set DATABASE_URL (for example sqlite:data/app.db)',
      ExitCode.usage,
    )
  }
  const tableOption = tableOptionOf(options)
  let tables: TableNames
  try {
    tables = resolveTableNames(tableOption)
  } catch (error) {
    // The library names its option (`tables.prefix`, `tables.users`); here the user typed a flag or set a
    // variable, so the message names those.
    const message = (error as Error).message
      .replace(/^fastify-users: option `tables\.prefix` /, '--table-prefix (or FASTIFY_USERS_TABLE_PREFIX) ')
      .replace(/^fastify-users: option `tables(?:\.(\w+))?` /, (_, key?: string) =>
        key ? `--tables (or FASTIFY_USERS_TABLES): "${key}" ` : '--tables (or FASTIFY_USERS_TABLES) ',
      )
    throw new CliError(message, ExitCode.usage)
  }
  const file = sqliteFile(url)
  if (file !== null && !options.create && !existsSync(file)) {
    throw new CliError(
      `no SQLite database at ${file}; check the path, or create it with \`fastify-users migrate\``,
    )
  }
  let connected: Awaited<ReturnType<typeof connectDatabase<unknown>>>
  try {
    // Two connections: admin removals (delete-user, revoke-role) hold the database's admin lock on one
    // while their queries run on the other; with one, they would wait for themselves. An interactive
    // command reports an unreachable database at once rather than retrying for the server's start-up
    // grace period.
    connected = await connectDatabase<unknown>(url, { poolSize: 2, connectTimeoutMs: 0 })
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error))
  }
  try {
    return await use({
      db: connected.db,
      dialect: connected.dialect,
      url: connected.url,
      tables,
      tableOption,
    })
  } finally {
    await connected.db.destroy()
  }
}

/** The open database, its schema, and a service over it. */
export interface ServiceContext extends OpenDatabase {
  schema: UserSchema
  service: BaseUserService
}

/** Options of {@link withUserService}. */
export interface ServiceOptions extends DatabaseOptions {
  /** The scheme new passwords are hashed with. Default: `'argon2id'`, as the plugin's default. */
  hashScheme?: PasswordSchemeName
}

/**
 * Opens a migrated database and builds a {@link BaseUserService} over it, with the id type and the custom
 * columns read from the schema, so its policy, canonical emails and conflict errors apply exactly as in
 * the application.
 *
 * @throws CliError when the database has no fastify-users schema yet (run `migrate` first).
 *
 * @example
 * ```ts
 * await withUserService({ databaseUrl }, async ({ service }) => {
 *   await service.addRole({ name: 'admin' })
 * })
 * ```
 */
export async function withUserService<T>(
  options: ServiceOptions,
  use: (context: ServiceContext) => Promise<T>,
): Promise<T> {
  return withDatabase(options, async (database) => {
    const schema = await readUserSchema(database.db, database.dialect, database.tables.users)
    if (!schema) {
      const which =
        database.tables.users === 'users' ? 'fastify-users tables' : `table ${database.tables.users}`
      throw new CliError(`${database.url} has no ${which}; run \`fastify-users migrate\` first`)
    }
    const redis = await openRedis(options)
    try {
      const service = new BaseUserService({
        // The CLI never issues or checks a token (it sends no mail and logs nobody in), but the service
        // needs a secret to exist. A fresh random one per run means no secret is configured, stored or
        // leaked for the CLI, and nothing it could sign would be accepted by the application.
        secret: randomBytes(32).toString('base64url'),
        ...cliRepositories(database, schema, redis),
        hashSchemes: [options.hashScheme ?? 'argon2id'],
      })
      return await use({ ...database, schema, service })
    } finally {
      await redis?.client.quit().catch(() => redis.client.disconnect())
    }
  })
}

/** The application's Redis, as `--redis` names it, with its key prefix; `undefined` without the option. */
async function openRedis(options: DatabaseOptions): Promise<{ client: Redis; prefix: string } | undefined> {
  const url = options.redis?.trim()
  if (!url) return undefined
  if (!isRedisUrl(url)) {
    throw new CliError(
      '--redis (or FASTIFY_USERS_REDIS_URL) must be a URL such as redis://127.0.0.1:6379',
      ExitCode.usage,
    )
  }
  const prefix = options.redisPrefix ?? 'fastify-users:'
  try {
    return { client: await createRedisClient(url), prefix }
  } catch (error) {
    throw new CliError(`cannot use --redis: ${(error as Error).message.replace(/^fastify-users: /, '')}`)
  }
}

/**
 * The repositories of the CLI, the same the plugin builds: with `--redis`, the sessions, the deny-list and
 * the counters in Redis, and the revoking writes published on the cache's Redis channel; else, on
 * PostgreSQL, notified on the cache's `LISTEN/NOTIFY` channel. Either way a running application drops
 * what it cached at once (publish only: the CLI caches nothing). Elsewhere there is no channel it could
 * reach, and a running cache sees them after its TTL.
 */
function cliRepositories(
  database: OpenDatabase,
  schema: NonNullable<Awaited<ReturnType<typeof readUserSchema>>>,
  redis: { client: Redis; prefix: string } | undefined,
) {
  const repos = createKyselyRepositories(database.db, {
    idType: schema.idType,
    userFields: schema.userFields,
    tables: database.tableOption,
  })
  if (redis) {
    const shared = { ...repos, ...createRedisStores(redis.client, { prefix: redis.prefix }) }
    const bus = new RedisInvalidationBus(redis.client, {
      channel: redisCacheChannel(database.tables.users),
    })
    return withCacheInvalidation(shared, new AuthCache({ bus }))
  }
  if (database.dialect !== 'postgres') return repos
  // Never subscribed (so the masked URL, for a listening connection, is never used): NOTIFY goes through `db`.
  const bus = new PgInvalidationBus(database.db, database.url, {
    channel: pgCacheChannel(database.tables.users),
  })
  return withCacheInvalidation(repos, new AuthCache({ bus }))
}

/** The file a `sqlite:` URL opens, or `null` for other URLs and `sqlite::memory:` (same forms as connectDatabase). */
function sqliteFile(url: string): string | null {
  if (!/^sqlite:/i.test(url)) return null
  const rest = url.slice('sqlite:'.length)
  if (rest === ':memory:' || rest === '//:memory:' || rest === '') return null
  if (rest.startsWith('///')) return rest.slice(2)
  if (rest.startsWith('//')) return null // refused by connectDatabase with its own message
  return rest
}

/**
 * The `tables` option from `--tables` (JSON) and `--table-prefix`. Both may be given; a prefix in both
 * must agree, so neither silently overrides the other.
 */
function tableOptionOf(options: DatabaseOptions): TableNamesOption {
  let fromJson: TableNamesOption = {}
  const text = options.tables?.trim()
  if (text) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new CliError(
        `--tables (or FASTIFY_USERS_TABLES) must be JSON, for example '{"prefix":"auth_","users":"account_holders"}'`,
        ExitCode.usage,
      )
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CliError('--tables (or FASTIFY_USERS_TABLES) must be a JSON object', ExitCode.usage)
    }
    fromJson = parsed as TableNamesOption
  }
  if (options.tablePrefix === undefined) return fromJson
  if (fromJson.prefix !== undefined && fromJson.prefix !== options.tablePrefix) {
    throw new CliError(
      `--table-prefix "${options.tablePrefix}" and the prefix "${String(fromJson.prefix)}" of --tables disagree: give one`,
      ExitCode.usage,
    )
  }
  return { ...fromJson, prefix: options.tablePrefix }
}
