/**
 * Queries compiled once and run many times with new parameters. The per-request paths (the user of a
 * session or token, the session itself, the deny-list) skip Kysely's builder and compiler this way, which
 * is most of their cost on an embedded database; the SQL is still written with Kysely, once, per dialect.
 *
 * @module
 */
import { type Compilable, CompiledQuery } from 'kysely'
import type { DynamicDb } from './database.js'

/** Stands for a parameter while the query is compiled; replaced by the real value at each execution. */
export class Placeholder {
  readonly index: number
  constructor(index: number) {
    this.index = index
  }
}

/**
 * A query compiled at first use.
 *
 * @example
 * ```ts
 * const byId = new PreparedQuery(db, (db, p) => db.selectFrom('sessions').selectAll().where('id', '=', p(0)))
 * const rows = await byId.execute(['abc'])
 * ```
 */
export class PreparedQuery<Row = Record<string, unknown>> {
  readonly #db: DynamicDb
  readonly #build: (db: DynamicDb, p: (index: number) => never) => Compilable
  #compiled: {
    sql: string
    parameters: readonly unknown[]
    slots: Array<[position: number, index: number]>
  } | null = null

  constructor(db: DynamicDb, build: (db: DynamicDb, p: (index: number) => never) => Compilable) {
    this.#db = db
    this.#build = build
  }

  /** Runs the query with `values` in place of the placeholders `p(0)`, `p(1)`... and returns its rows. */
  async execute(values: readonly unknown[]): Promise<Row[]> {
    const compiled = this.#compile()
    const parameters = [...compiled.parameters]
    for (const [position, index] of compiled.slots) parameters[position] = values[index]
    const result = await this.#db.executeQuery<Row>(CompiledQuery.raw(compiled.sql, parameters))
    return result.rows
  }

  #compile() {
    if (this.#compiled) return this.#compiled
    const { sql, parameters } = this.#build(this.#db, (index) => new Placeholder(index) as never).compile()
    const slots: Array<[number, number]> = []
    parameters.forEach((value, position) => {
      if (value instanceof Placeholder) slots.push([position, value.index])
    })
    this.#compiled = { sql, parameters, slots }
    return this.#compiled
  }
}
