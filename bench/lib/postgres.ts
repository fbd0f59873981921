/**
 * The benchmark's PostgreSQL databases: each created fresh (`fu_bench_<hex>_<name>`) from the admin URL
 * in `FASTIFY_USERS_BENCH_POSTGRES_URL`, and dropped when the benchmark ends, however it ends.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { log } from './config.js'

const created = new Map<string, { admin: string; name: string; url: string }>()
const run = randomBytes(4).toString('hex')

/**
 * The URL of the run's database called `name`, created on first use.
 *
 * @example
 * ```ts
 * const url = await postgresDatabase('main') // postgres://.../fu_bench_1a2b3c4d_main
 * ```
 */
export async function postgresDatabase(name: string): Promise<string> {
  const known = created.get(name)
  if (known) return known.url
  const admin = process.env.FASTIFY_USERS_BENCH_POSTGRES_URL
  if (!admin) throw new Error('FASTIFY_USERS_BENCH_POSTGRES_URL not set')
  const { default: pg } = await import('pg')
  const database = `fu_bench_${run}_${name}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(`create database ${database}`)
  } finally {
    await client.end()
  }
  const url = new URL(admin)
  url.pathname = `/${database}`
  created.set(name, { admin, name: database, url: url.toString() })
  log(`created PostgreSQL database ${database}`)
  return url.toString()
}

/** The URL of a database created earlier in this run; throws when there is none. */
export function postgresUrl(name: string): string {
  const known = created.get(name)
  if (!known) throw new Error(`no PostgreSQL database '${name}' in this run`)
  return known.url
}

/** Drops every database of the run. */
export async function dropPostgresDatabases(): Promise<void> {
  const { default: pg } = await import('pg')
  for (const [key, { admin, name }] of created) {
    created.delete(key)
    const client = new pg.Client({ connectionString: admin })
    try {
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      log(`dropped PostgreSQL database ${name}`)
    } catch (err) {
      log(`could not drop PostgreSQL database ${name}: ${(err as Error).message}`)
    } finally {
      await client.end().catch(() => {})
    }
  }
}
