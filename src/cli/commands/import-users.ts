/**
 * `fastify-users import`: adds users from a JSON Lines or CSV file, with the password hashes of the system
 * they come from.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs'
import { Command, Option } from 'commander'
import { canonicalEmail } from '../../core/identifiers.js'
import { BaseUserService } from '../../core/user-service.js'
import { DatabaseUnavailableError, FastifyUsersError, UserExistsError } from '../../kernel/errors.js'
import type { PasswordSchemeName } from '../../password/password-manager.js'
import { createKyselyRepositories } from '../../persistence/kysely/index.js'
import { type DatabaseOptions, type ServiceContext, withDatabaseOption, withUserService } from '../context.js'
import { type ImportedUser, importField, importRow, type RowRefusal } from '../import-row.js'
import { type ImportFormat, importFormat, readImportRows } from '../import-source.js'
import { CliError, type CliIo, ExitCode } from '../output.js'

interface ImportOptions extends DatabaseOptions {
  format?: ImportFormat
  dryRun?: boolean
  createRoles?: boolean
  report?: string
}

/** A refused row as the report lists it. */
interface Refusal extends RowRefusal {
  line: number
  email?: string
}

/** Counts of one run. */
interface Tally {
  rows: number
  imported: number
  skipped: number
  refused: number
  schemes: Map<PasswordSchemeName, number>
  rolesCreated: Set<string>
}

// Refused rows printed on stderr when there is no --report file; the rest are counted.
const MAX_PRINTED_REFUSALS = 20
const PROGRESS_INTERVAL_MS = 200

// Thrown inside a row's transaction to end it with a rollback; an outcome, not a failure.
/** The row was written in full and is rolled back (the dry run). */
class DryRunRollback extends Error {}
/** The address already has an account. */
class RowSkipped extends Error {}
/** The row is refused after part of it was written; the rollback removes that part. */
class RowRefused extends Error {
  readonly refusal: RowRefusal
  constructor(refusal: RowRefusal) {
    super(refusal.reason)
    this.refusal = refusal
  }
}

/**
 * Builds the `import` command. Each row becomes one user with its roles, in its own transaction: a
 * refused row leaves nothing behind, and an interrupted import keeps every row before the interruption.
 * An address that already has an account (in the database, or earlier in the file) is skipped and
 * counted, never changed, so running the same file again is safe. Exit code 1 when any row was refused.
 *
 * @example
 * ```sh
 * fastify-users import users.jsonl --dry-run
 * fastify-users import users.csv --create-roles --report refused.jsonl
 * ```
 */
export function importUsersCommand(io: CliIo): Command {
  return withDatabaseOption(new Command('import'))
    .description('add users from a JSON Lines or CSV file, keeping their password hashes')
    .argument(
      '<file>',
      'the file: .jsonl (one JSON object a line) or .csv (a header line, then one user a line)',
    )
    .addOption(
      new Option('--format <format>', 'the file format, when its name does not say').choices([
        'jsonl',
        'csv',
      ]),
    )
    .option('--dry-run', 'check every row against the database, write nothing')
    .option(
      '--create-roles',
      'create the roles the file names that do not exist (else such rows are refused)',
    )
    .option('--report <file>', 'write every refused row (line, email, reason) to this file as JSON Lines')
    .action(async (file: string, options: ImportOptions) => {
      const format = importFormat(file, options.format)
      if (!existsSync(file) || !statSync(file).isFile()) {
        throw new CliError(`no file at ${file}`, ExitCode.usage)
      }
      const refused = await withUserService(options, (context) =>
        importFile(file, format, options, context, io),
      )
      if (refused > 0) throw new CliError(`${refused} row${refused === 1 ? ' was' : 's were'} refused`)
    })
}

async function importFile(
  file: string,
  format: ImportFormat,
  options: ImportOptions,
  context: ServiceContext,
  io: CliIo,
): Promise<number> {
  const tally: Tally = {
    rows: 0,
    imported: 0,
    skipped: 0,
    refused: 0,
    schemes: new Map(),
    rolesCreated: new Set(),
  }
  const progress = new Progress(io, statSync(file).size, tally)
  const report = options.report ? await openReport(options.report) : null
  // First line of each address in the file: a second row for it is a mistake in the file, not a re-run.
  const seen = new Map<string, number>()
  const refuse = (refusal: Refusal) => {
    tally.refused++
    if (report) report.write(`${JSON.stringify(refusal)}\n`)
    else if (tally.refused <= MAX_PRINTED_REFUSALS) {
      progress.clear()
      const text = `line ${refusal.line}: ${refusal.field ? `${refusal.field}: ` : ''}${refusal.reason}`
      io.stderr.write(`${printable(text)}\n`)
    }
  }
  try {
    const rows = readImportRows(file, format, {
      onHeader: (columns) => checkHeader(columns, context),
      onBytes: (bytes) => progress.update(bytes),
    })
    for await (const row of rows) {
      progress.tick()
      tally.rows++
      if ('error' in row) {
        refuse({ line: row.line, reason: row.error })
        continue
      }
      const checked = importRow(row.fields, context.schema)
      const email = typeof row.fields.email === 'string' ? row.fields.email : undefined
      if ('reason' in checked) {
        refuse({ line: row.line, ...(email ? { email } : {}), ...checked })
        continue
      }
      let canonical: string
      try {
        canonical = canonicalEmail(checked.user.email)
      } catch (error) {
        refuse({ line: row.line, ...(email ? { email } : {}), field: 'email', reason: messageOf(error) })
        continue
      }
      const first = seen.get(canonical)
      if (first !== undefined) {
        refuse({
          line: row.line,
          email: canonical,
          field: 'email',
          reason: `the same address as line ${first}`,
        })
        continue
      }
      seen.set(canonical, row.line)
      const outcome = await writeRow(checked, canonical, options, context, tally)
      if (outcome === 'imported') {
        tally.imported++
        tally.schemes.set(checked.scheme, (tally.schemes.get(checked.scheme) ?? 0) + 1)
      } else if (outcome === 'skipped') tally.skipped++
      else refuse({ line: row.line, email: canonical, ...outcome })
    }
  } finally {
    progress.clear()
    if (report) await closeReport(report)
  }
  io.stdout.write(summary(tally, options))
  if (!report && tally.refused > MAX_PRINTED_REFUSALS) {
    io.stderr.write(
      `... and ${tally.refused - MAX_PRINTED_REFUSALS} more refused rows; pass --report <file> to list them all\n`,
    )
  }
  return tally.refused
}

/** Refuses, before any row is written, a CSV header with a column the users table has no field for. */
function checkHeader(columns: readonly string[], { schema }: ServiceContext): void {
  const unknown = columns.filter((column) => importField(column, schema) === null)
  if (unknown.length > 0) {
    const custom = [...schema.customFields.keys()]
    throw new CliError(
      `the users table has no field for the column${unknown.length === 1 ? '' : 's'} ${unknown.map((c) => `'${printable(c)}'`).join(', ')}; ` +
        `known: id, email, username, password_hash, is_active, is_verified, roles${custom.length > 0 ? `, ${custom.join(', ')}` : ''}`,
      ExitCode.usage,
    )
  }
  const fields = columns.map((column) => importField(column, schema))
  const twice = fields.find((field, i) => fields.indexOf(field) !== i)
  if (twice) throw new CliError(`two columns stand for '${twice}'`, ExitCode.usage)
}

/**
 * Writes one user and its roles in one transaction, through a user service over that transaction, so its
 * checks and canonical forms apply as for any other user.
 */
async function writeRow(
  row: ImportedUser,
  email: string,
  options: ImportOptions,
  { db, schema }: ServiceContext,
  tally: Tally,
): Promise<'imported' | 'skipped' | RowRefusal> {
  const created: string[] = []
  try {
    await db.transaction().execute(async (trx) => {
      const service = new BaseUserService({
        secret: randomBytes(32).toString('base64url'),
        ...createKyselyRepositories(trx, { idType: schema.idType, userFields: schema.userFields }),
      })
      if (await service.getUserBy({ email })) throw new RowSkipped()
      // The user first, the roles after: any refusal past this point rolls the user back with it.
      const user = await service.addUser({ ...row.user, email } as Parameters<typeof service.addUser>[0], {
        activate: row.active,
        verify: row.verified,
      })
      for (const name of row.roles) {
        let role = await service.getRoleByName(name)
        if (!role && options.createRoles) {
          role = await service.addRole({ name })
          created.push(role.name)
        }
        if (!role) {
          throw new RowRefused({
            field: 'roles',
            reason: `no role named '${name}'; create it first, or pass --create-roles`,
          })
        }
        await service.assignRole(user.id, role.id)
      }
      if (options.dryRun) throw new DryRunRollback()
    })
    for (const name of created) tally.rolesCreated.add(name)
    return 'imported'
  } catch (error) {
    if (error instanceof RowSkipped) return 'skipped'
    if (error instanceof RowRefused) return error.refusal
    if (error instanceof DryRunRollback) {
      for (const name of created) tally.rolesCreated.add(name)
      return 'imported'
    }
    // The address was checked inside the transaction; a writer that got there since is a re-run race.
    if (error instanceof UserExistsError && error.field === 'email') return 'skipped'
    if (error instanceof DatabaseUnavailableError) throw error
    if (error instanceof FastifyUsersError) {
      const field = (error as { field?: unknown }).field
      return { ...(typeof field === 'string' ? { field } : {}), reason: error.message }
    }
    // A driver's refusal of a value (too long for its column, out of range) belongs to this row alone.
    return { reason: messageOf(error) }
  }
}

function summary(tally: Tally, options: ImportOptions): string {
  const lines: string[] = []
  const users = (n: number) => `${n} user${n === 1 ? '' : 's'}`
  const counts = `${tally.skipped} skipped (already there), ${tally.refused} refused`
  if (options.dryRun) {
    lines.push(`Dry run: ${users(tally.imported)} would be imported, ${counts}; nothing was written.`)
  } else {
    lines.push(`Imported ${users(tally.imported)}, ${counts}.`)
  }
  if (tally.rolesCreated.size > 0) {
    const names = [...tally.rolesCreated].sort().join(', ')
    lines.push(options.dryRun ? `Roles that would be created: ${names}.` : `Created roles: ${names}.`)
  }
  if (tally.schemes.size > 0) {
    const schemes = [...tally.schemes.entries()].map(([scheme, n]) => `${scheme} ${n}`).join(', ')
    const names = [...tally.schemes.keys()].filter((s) => s !== 'argon2id')
    lines.push(`Password hashes: ${schemes}.`)
    if (names.length > 0) {
      lines.push(
        `These users log in only if the application lists ${names.map((s) => `'${s}'`).join(' and ')} in hashSchemes, ` +
          `after its first scheme: hashSchemes: ['argon2id', ${names.map((s) => `'${s}'`).join(', ')}]. ` +
          'Each hash is replaced with the first scheme at its next login.',
      )
    }
  }
  return `${lines.join('\n')}\n`
}

// A field name or value from the file may hold control characters; shown raw, they could rewrite the
// terminal. The report file is JSON, which escapes them already.
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function openReport(path: string): Promise<WriteStream> {
  const stream = createWriteStream(path)
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve())
    stream.once('error', (error) =>
      reject(new CliError(`cannot write the report to ${path}: ${error.message}`)),
    )
  })
  return stream
}

function closeReport(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.end((error?: Error | null) => (error ? reject(error) : resolve()))
  })
}

/** One line on stderr, redrawn in place, only when stderr is a terminal: scripts and logs get no noise. */
class Progress {
  readonly #stderr: CliIo['stderr']
  readonly #enabled: boolean
  readonly #size: number
  readonly #tally: Tally
  #bytes = 0
  #last = 0
  #shown = false

  constructor(io: CliIo, size: number, tally: Tally) {
    this.#stderr = io.stderr
    this.#enabled = (io.stderr as { isTTY?: boolean }).isTTY === true
    this.#size = size
    this.#tally = tally
  }

  update(bytes: number): void {
    this.#bytes = bytes
  }

  tick(): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < PROGRESS_INTERVAL_MS) return
    this.#last = now
    const percent = this.#size > 0 ? Math.min(100, Math.floor((this.#bytes / this.#size) * 100)) : 100
    const { rows, imported, skipped, refused } = this.#tally
    this.#stderr.write(
      `\r\x1b[K${percent}%  ${rows} rows: ${imported} imported, ${skipped} skipped, ${refused} refused`,
    )
    this.#shown = true
  }

  clear(): void {
    if (!this.#shown) return
    this.#stderr.write('\r\x1b[K')
    this.#shown = false
  }
}
