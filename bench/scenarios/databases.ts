/**
 * The databases the SQL scenarios run on: SQLite always, PostgreSQL when the run has its URL.
 *
 * @module
 */
import { config } from '../lib/config.js'

/** Row-id prefixes of the run's databases. */
export function databases(): ReadonlyArray<'sqlite' | 'pg'> {
  return config.postgres ? ['sqlite', 'pg'] : ['sqlite']
}

/** Their names in labels. */
export const dbName = { sqlite: 'SQLite', pg: 'PostgreSQL' } as const
