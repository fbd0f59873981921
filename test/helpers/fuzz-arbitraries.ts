/**
 * fast-check arbitraries for fuzzing an HTTP API with hostile input: JSON bodies built from a route's own
 * JSON schema and then mutated (wrong types, huge and control-character strings, unicode edge cases,
 * numbers JSON.parse cannot represent, prototype-pollution keys, duplicate keys), raw malformed JSON,
 * query strings with duplicates and broken percent-encoding, crafted pagination cursors, path ids and
 * credential-shaped header garbage.
 *
 * Bodies are produced as raw text, not through `JSON.stringify`, so that what a real client can send and
 * `JSON.stringify` cannot (a literal `"__proto__"` key, a duplicate key, `1e400`, `-0`) reaches the server.
 *
 * @module
 */
import fc from 'fast-check'

/** A JSON value as raw text is built from it: `raw` is emitted verbatim, objects keep duplicate keys. */
export type JsonValue =
  | null
  | boolean
  | string
  | { raw: string }
  | JsonValue[]
  | { entries: Array<[string, JsonValue]> }

/** The subset of JSON Schema (as the OpenAPI document shows it) the generators understand. */
export interface JsonSchema {
  type?: string | string[]
  format?: string
  properties?: Record<string, JsonSchema>
  required?: string[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  items?: JsonSchema
  $ref?: string
}

const isEntries = (v: JsonValue): v is { entries: Array<[string, JsonValue]> } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && 'entries' in v

/** Raw JSON text of a value; lone surrogates come out as `\ud800` escapes, which JSON allows. */
export function toJsonText(value: JsonValue): string {
  if (value === null || typeof value === 'boolean') return String(value)
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`
  if (isEntries(value))
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`
  return value.raw
}

/** Strings that broke, or could break, a parser, a database driver, a collation or a regex somewhere. */
export const edgeString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b@example.com',
    '\u0000'.repeat(4),
    '\t\r\n\u000b\u000c',
    '\u001b[31m',
    '\u007f',
    '\u0085',
    '\u2028\u2029',
    '\u202egnp.exe',
    'moc.elpmaxe@\u202eeve',
    '\u0627\u0644\u0639\u0631\u0628\u064a\u0629@example.com',
    'e\u0301\u0301\u0301\u0301',
    'Z\u0351\u0360\u036b\u0343\u036a\u0302',
    '\ud800',
    '\udfff',
    'a\ud800b',
    '\udc00\ud800',
    '\ufeff',
    '\ufffe\uffff',
    '\u200b\u200c\u200d',
    '𝕏𝕐@example.com',
    '👨‍👩‍👧‍👦',
    'İı@example.com',
    'ß@EXAMPLE.COM',
    'null',
    'true',
    '0',
    '-0',
    '1e400',
    '-1e400',
    'NaN',
    'Infinity',
    '1.5',
    '9007199254740993',
    '__proto__',
    'constructor',
    'prototype',
    '%00',
    '%',
    '../../../etc/passwd',
    "' OR '1'='1' --",
    '"; DROP TABLE users; --',
    '\\',
    '$' + '{7*7}{{7*7}}',
    '<script>alert(1)</script>',
    '@',
    'a@b',
    '@example.com',
    'a@',
    'a@b@c',
    ' admin@example.com ',
    'ADMIN@EXAMPLE.COM',
  ),
  fc.integer({ min: 0, max: 0x1f }).map((c) => `a${String.fromCharCode(c)}b@example.com`),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => `x${String.fromCharCode(c)}y`),
  fc.constantFrom(65, 129, 321, 4097, 20_000).map((n) => 'a'.repeat(n)),
  fc.constantFrom(64, 200).map((n) => `${'é'.repeat(n)}@example.com`),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.emailAddress(),
)

/** Number-like raw JSON tokens: valid JSON the server may not represent, and invalid ones. */
const edgeNumberToken: fc.Arbitrary<{ raw: string }> = fc
  .oneof(
    fc.constantFrom(
      '1e400',
      '-1e400',
      '1e-400',
      '-0',
      '0',
      '-1',
      '1.5',
      '0.1e1',
      '2147483648',
      '9223372036854775808',
      '9007199254740993',
      '99999999999999999999999999999999999999',
      '1E2',
    ),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  )
  .map((raw) => ({ raw }))

const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'isAdmin',
    'roles',
    'id',
    'passwordHash',
    'password_hash',
    'authVersion',
    'isVerified',
    'isActive',
    '',
    '\u0000',
    'email\u0000',
    'toString',
    'hasOwnProperty',
  ),
  fc.string({ maxLength: 12 }),
)

/** Any JSON value, weighted towards the hostile ones. */
export const nastyValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: edgeString, weight: 6 },
    { arbitrary: edgeNumberToken, weight: 3 },
    { arbitrary: fc.constantFrom<JsonValue>(null, true, false), weight: 2 },
    { arbitrary: fc.array(tie('value'), { maxLength: 3 }), weight: 1 },
    {
      arbitrary: fc
        .array(fc.tuple(nastyKey, tie('value')), { maxLength: 3 })
        .map((entries): JsonValue => ({ entries })),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom<JsonValue>(
        { entries: [['__proto__', { entries: [['isAdmin', true]] }]] },
        { entries: [['constructor', { entries: [['prototype', { entries: [['polluted', true]] }]] }]] },
        { raw: `${'['.repeat(2000)}${']'.repeat(2000)}` },
        { raw: `${'{"a":'.repeat(500)}1${'}'.repeat(500)}` },
        { raw: `[${'1,'.repeat(3000)}1]` },
      ),
      weight: 1,
    },
  ),
})).value

/** A unique-looking address on a test domain. */
export const freshEmail: fc.Arbitrary<string> = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9.+_-]{0,20}$/), fc.nat())
  .map(([local, n]) => `fz.${local.replace(/\.+$/, '')}.${n}@example.com`)

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789')

/** Overrides for named fields, e.g. `userId` drawn from existing ids. */
export type FieldArbitraries = Record<string, fc.Arbitrary<JsonValue>>

/** A value that satisfies a schema (roughly: formats and bounds are followed, not guaranteed). */
export function validValue(
  schema: JsonSchema,
  name: string,
  fields: FieldArbitraries,
): fc.Arbitrary<JsonValue> {
  const override = fields[name]
  if (override) return override
  if (schema.const !== undefined) return fc.constant(schema.const as JsonValue)
  if (schema.enum) return fc.constantFrom(...(schema.enum as JsonValue[]))
  const members = schema.anyOf ?? schema.oneOf
  // Null is one valid value among many: prefer the others, which reach further into the server.
  const weight = (s: JsonSchema) => (s.type === 'null' ? 1 : 3)
  if (members && members.length > 0)
    return fc.oneof(...members.map((m) => ({ arbitrary: validValue(m, name, fields), weight: weight(m) })))
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []
  if (types.length > 1)
    return fc.oneof(
      ...types.map((type) => ({
        arbitrary: validValue({ ...schema, type }, name, fields),
        weight: weight({ type }),
      })),
    )
  switch (types[0]) {
    case 'null':
      return fc.constant(null)
    case 'boolean':
      return fc.boolean()
    case 'integer':
    case 'number':
      return fc
        .integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1000, 2 ** 31) })
        .map((n) => ({ raw: String(n) }))
    case 'array':
      return fc.array(validValue(schema.items ?? {}, name, fields), { maxLength: 2 })
    case 'object':
      return validObject(schema, fields)
    case 'string': {
      if (schema.format === 'email') return freshEmail
      if (schema.format === 'uuid') return fc.uuid()
      const minLength = schema.minLength ?? 0
      const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 40, 40))
      // Plain letters and digits: valid for any text field, so the one hostile value is what gets tested.
      return fc.string({ unit: alnum, minLength, maxLength })
    }
    default:
      return nastyValue
  }
}

/** An object with every required property and some optional ones, each valid for its schema. */
export function validObject(schema: JsonSchema, fields: FieldArbitraries): fc.Arbitrary<JsonValue> {
  const properties = Object.entries(schema.properties ?? {})
  const required = new Set(schema.required ?? [])
  return fc
    .tuple(
      ...properties.map(([name, sub]) =>
        fc.tuple(
          fc.constant(name),
          validValue(sub, name, fields),
          fc.boolean().chain((b) => (b ? fc.constant(true) : fc.boolean())),
        ),
      ),
    )
    .map((picked) => ({
      entries: picked
        .filter(([name, , include]) => include || required.has(name))
        .map(([name, value]): [string, JsonValue] => [name, value]),
    }))
}

/**
 * Characters that survive a length check and a type check but may not survive a driver, a collation or a
 * regex: NUL (PostgreSQL text refuses it), lone surrogates, bidi overrides, combining marks, controls.
 */
const hostileChar: fc.Arbitrary<string> = fc.constantFrom(
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e',
  '\u0301',
  '\u0007',
  '\u001b',
  '\ufeff',
  '\u2028',
  '\u200b',
  '\uffff',
  "'",
  '\\',
  '%00',
  '%',
)

/** A valid string with one hostile character inserted: same type, about the same length. */
export function taint(text: string, char: string, at: number): string {
  const i = text.length === 0 ? 0 : at % (text.length + 1)
  return `${text.slice(0, i)}${char}${text.slice(i)}`
}

type Mutation =
  | { kind: 'taint'; index: number; char: string; at: number }
  | { kind: 'replace'; index: number; value: JsonValue }
  | { kind: 'delete'; index: number }
  | { kind: 'add'; key: string; value: JsonValue }
  | { kind: 'duplicate'; index: number; value: JsonValue }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('taint' as const),
      index: fc.nat(),
      char: hostileChar,
      at: fc.nat(),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('replace' as const), index: fc.nat(), value: nastyValue }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), index: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('add' as const), key: nastyKey, value: nastyValue }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('duplicate' as const), index: fc.nat(), value: nastyValue }),
    weight: 1,
  },
)

function mutate(value: JsonValue, mutations: Mutation[]): JsonValue {
  if (!isEntries(value)) return value
  const entries = [...value.entries]
  for (const m of mutations) {
    if (m.kind === 'add') {
      entries.push([m.key, m.value])
      continue
    }
    if (entries.length === 0) continue
    // A taint aims at a text field, where a hostile character passes the schema and reaches the database.
    const strings = entries.flatMap(([, v], i) => (typeof v === 'string' ? [i] : []))
    const i =
      m.kind === 'taint' && strings.length > 0
        ? (strings[m.index % strings.length] as number)
        : m.index % entries.length
    const [key] = entries[i] as [string, JsonValue]
    const current = (entries[i] as [string, JsonValue])[1]
    if (m.kind === 'taint')
      entries[i] = [key, typeof current === 'string' ? taint(current, m.char, m.at) : m.char]
    else if (m.kind === 'replace') entries[i] = [key, m.value]
    else if (m.kind === 'delete') entries.splice(i, 1)
    else entries.push([key, m.value])
  }
  return { entries }
}

/** A request body: raw bytes (or none) and the content type it is sent with (or none). */
export interface FuzzBody {
  contentType: string | undefined
  payload: string | Buffer | undefined
}

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;',
]

const malformedJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '}',
    '{"',
    '{"email":',
    '{"email":"a@example.com"',
    '[',
    'null',
    '""',
    '"x"',
    '1',
    '-0',
    '1e400',
    'true',
    '[]',
    '[{}]',
    '{"a":1,}',
    "{'a':1}",
    '{"a":1}{"b":2}',
    '{"a":1} trailing',
    '{a:1}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '{"a":0x10}',
    '{"a":"\\x41"}',
    '{"a":"\\ud800"}',
    '{"a":"\u0000"}',
    '\u0000',
    '\ufeff{}',
    '{"__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    '{"email":"a@example.com","email":"b@example.com"}',
    `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
  ),
  fc.string({ maxLength: 60 }),
  fc.json({ maxDepth: 3 }),
)

const invalidUtf8: fc.Arbitrary<Buffer> = fc
  .constantFrom([0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe0, 0x80], [0x80])
  .map((bytes) =>
    Buffer.concat([
      Buffer.from('{"email":"a'),
      Buffer.from(bytes),
      Buffer.from('@example.com","password":"x"}'),
    ]),
  )

/** Bodies for a route whose body schema is known (or `undefined`): mostly mutated valid ones. */
export function fuzzBody(schema: JsonSchema | undefined, fields: FieldArbitraries): fc.Arbitrary<FuzzBody> {
  const base = schema ? validObject(schema, fields) : fc.constant<JsonValue>({ entries: [] })
  const mutated = fc
    .tuple(base, fc.array(mutation, { minLength: 0, maxLength: 3 }), fc.constantFrom(...JSON_TYPES))
    .map(
      ([value, mutations, contentType]): FuzzBody => ({
        contentType,
        payload: toJsonText(mutate(value, mutations)),
      }),
    )
  // One field (any property of the schema, present or not in the valid object) made hostile, the others
  // valid: the shape that gets past validation and the service's checks into the database.
  const properties = Object.entries(schema?.properties ?? {})
  const focused =
    properties.length === 0
      ? mutated
      : fc
          .tuple(
            base,
            fc.constantFrom(...properties).chain(([name, sub]) =>
              fc.tuple(
                fc.constant(name),
                fc.oneof(
                  {
                    arbitrary: fc
                      .tuple(validValue(sub, name, fields), hostileChar, fc.nat())
                      .map(([v, c, at]): JsonValue => taint(typeof v === 'string' ? v : 'abc', c, at)),
                    weight: 4,
                  },
                  { arbitrary: edgeString, weight: 2 },
                  { arbitrary: nastyValue, weight: 2 },
                ),
              ),
            ),
            fc.constantFrom(...JSON_TYPES),
          )
          .map(([value, [name, hostile], contentType]): FuzzBody => {
            const entries = isEntries(value) ? value.entries.filter(([k]) => k !== name) : []
            return { contentType, payload: toJsonText({ entries: [...entries, [name, hostile]] }) }
          })
  const wholeValue = fc
    .tuple(nastyValue, fc.constantFrom(...JSON_TYPES))
    .map(([value, contentType]): FuzzBody => ({ contentType, payload: toJsonText(value) }))
  const malformed = malformedJson.map((payload): FuzzBody => ({ contentType: 'application/json', payload }))
  const wrongType = fc
    .tuple(
      fc.constantFrom(
        'text/plain',
        'text/plain; charset=utf-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/jsonx',
        'application/problem+json',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        '*/*',
        'garbage',
        ';',
        'application/',
      ),
      fc.oneof(base.map(toJsonText), malformedJson),
    )
    .map(([contentType, payload]): FuzzBody => ({ contentType, payload }))
  const empty = fc.constantFrom<FuzzBody>(
    { contentType: undefined, payload: undefined },
    { contentType: 'application/json', payload: undefined },
    { contentType: 'application/json', payload: '' },
    { contentType: undefined, payload: '{}' },
  )
  const bytes = invalidUtf8.map((payload): FuzzBody => ({ contentType: 'application/json', payload }))
  return fc.oneof(
    { arbitrary: focused, weight: 8 },
    { arbitrary: mutated, weight: 6 },
    { arbitrary: wholeValue, weight: 2 },
    { arbitrary: malformed, weight: 3 },
    { arbitrary: wrongType, weight: 2 },
    { arbitrary: empty, weight: 1 },
    { arbitrary: bytes, weight: 1 },
  )
}

/**
 * Percent-encodes a string as a browser would, except that a lone surrogate (which `encodeURIComponent`
 * refuses) is written as its 3-byte WTF-8 form: invalid UTF-8, as a hostile client can send.
 */
export function percentEncode(text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    if (code >= 0xd800 && code <= 0xdfff) {
      out += `%${(0xe0 | (code >> 12)).toString(16).toUpperCase()}`
      out += `%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}`
      out += `%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`
    } else {
      out += encodeURIComponent(char)
    }
  }
  return out
}

/** Percent-encoding a decoder must refuse or survive. Already encoded: inserted into URLs as they are. */
export const badPercentEncoding: fc.Arbitrary<string> = fc.constantFrom(
  '%',
  '%%',
  '%zz',
  '%E0%A4%A',
  '%C0%80',
  '%ED%A0%80',
  '%FF%FE',
  '%00',
  'a%00b',
  '%2',
  '%u0041',
  '%252F',
  '%E2%80%AE',
)

const base64url = (text: string) => Buffer.from(text).toString('base64url')

/** Pagination cursors: random text and base64 of crafted JSON, as `kysely-user-repository` decodes them. */
export const fuzzCursor: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc
      .constantFrom(
        '["abc","x"]',
        '[1.5,"x"]',
        '[1e400,"x"]',
        '[-1e400,-1]',
        '["x",1e400]',
        '[null,1]',
        '[1,null]',
        '[]',
        '[1]',
        '[1,2,3]',
        '{}',
        '"x"',
        'null',
        '[true,false]',
        '[{},[]]',
        '["2024-01-01T00:00:00.000Z",1]',
        '["2024-13-45T99:99:99Z",1]',
        '[0,0]',
        '[-1,-1]',
        '[9223372036854775808,1]',
        '["\\u0000",1]',
        '["a\\u0000",1]',
        '["x","\\u0000"]',
        '["\\ud800",1]',
        `["${'a'.repeat(300)}",1]`,
        '[1,"1e400"]',
        '["1","abc"]',
      )
      .map(base64url),
    weight: 6,
  },
  fc.json({ maxDepth: 2 }).map(base64url),
  fc.string({ maxLength: 40 }),
  fc.base64String({ maxLength: 60 }),
  edgeString.map((s) => base64url(s)),
)

/**
 * A query string. One parameter (chosen at random) gets the hostile value, tainted, wrong-typed, broken
 * percent-encoding or, for `cursor`, a crafted cursor; the others are valid or absent. Sometimes a
 * parameter is repeated or an unknown one is added.
 */
export function fuzzQuery(
  parameters: Array<{ name: string; schema: JsonSchema }>,
  fields: FieldArbitraries,
): fc.Arbitrary<string> {
  const asText = (v: JsonValue) => (typeof v === 'string' ? v : toJsonText(v))
  const valid = (name: string, schema: JsonSchema) => validValue(schema, name, fields).map(asText)
  const hostile = (name: string, schema: JsonSchema): fc.Arbitrary<string> =>
    fc.oneof(
      { arbitrary: name === 'cursor' ? fuzzCursor.map(percentEncode) : fc.constant('%00'), weight: 4 },
      {
        arbitrary: fc
          .tuple(valid(name, schema), hostileChar, fc.nat())
          .map(([v, c, at]) => percentEncode(taint(v, c, at))),
        weight: 3,
      },
      { arbitrary: edgeString.map(percentEncode), weight: 3 },
      { arbitrary: nastyValue.map((v) => percentEncode(asText(v))), weight: 1 },
      { arbitrary: badPercentEncoding, weight: 2 },
    )
  const names = parameters.length > 0 ? parameters : [{ name: 'q', schema: {} }]
  const others = fc.tuple(
    ...names.map(({ name, schema }) =>
      fc.option(
        valid(name, schema).map((v) => `${name}=${percentEncode(v)}`),
        { freq: 2 },
      ),
    ),
  )
  const extra = fc.oneof(
    { arbitrary: fc.constant(''), weight: 9 },
    fc
      .tuple(fc.oneof(nastyKey.map(percentEncode), badPercentEncoding), edgeString.map(percentEncode))
      .map(([k, v]) => `${k}=${v}`),
    fc.constantFrom(
      '&',
      '=',
      '==',
      '&&',
      '[]=1',
      'a[b]=1',
      '__proto__[x]=1',
      'constructor[prototype][x]=1',
      'limit',
      'cursor=',
    ),
    fc
      .tuple(fc.constantFrom(...names), fc.array(fc.nat(1_000_000), { minLength: 2, maxLength: 3 }))
      .map(([{ name }, vs]) => vs.map((v) => `${name}=${v}`).join('&')),
  )
  return fc
    .tuple(
      fc.nat(names.length - 1),
      others,
      fc
        .constantFrom(...names)
        .chain(({ name, schema }) => hostile(name, schema).map((v) => [name, v] as const)),
      extra,
    )
    .map(([, rest, [name, value], more]) =>
      [...rest.filter((p): p is string => p !== null && !p.startsWith(`${name}=`)), `${name}=${value}`, more]
        .filter(Boolean)
        .join('&'),
    )
}

/** Path ids: huge, negative, non-numeric, UUID-like, over 100 characters, encoded slashes, or valid ones. */
export function fuzzId(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: valid, weight: 2 },
    {
      arbitrary: fc.constantFrom(
        '0',
        '-1',
        '-0',
        '+1',
        '1.5',
        '1e3',
        '1e400',
        '0x10',
        '01',
        '2147483648',
        '9223372036854775808',
        '99999999999999999999999999999999',
        'NaN',
        'Infinity',
        'null',
        'true',
        'abc',
        '%20',
        '1%20',
        '%00',
        '1%00',
        '%2F',
        '1%2F2',
        '..%2F..%2Fopenapi.json',
        '%C2%B9',
        '%D9%A1',
        '%EF%BC%91',
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '__proto__',
        'constructor',
        'me',
        'roles',
      ),
      weight: 4,
    },
    { arbitrary: fc.uuid().map((u) => u), weight: 1 },
    { arbitrary: fc.integer({ min: -(2 ** 53), max: 2 ** 53 }).map(String), weight: 1 },
    { arbitrary: fc.constantFrom(101, 150, 500, 2000, 9000).map((n) => '1'.repeat(n)), weight: 1 },
    { arbitrary: fc.constantFrom(101, 300).map((n) => 'a'.repeat(n)), weight: 1 },
    { arbitrary: edgeString.map(percentEncode), weight: 2 },
    { arbitrary: badPercentEncoding, weight: 1 },
  )
}

const printable: fc.Arbitrary<string> = fc.string({ unit: 'binary-ascii', maxLength: 80 }).map((s) =>
  // What can travel in an HTTP header: visible ASCII, space and tab (Node refuses the rest on the wire).
  s.replace(/[^\t\x20-\x7e]/g, ''),
)

const jwtHeader = fc.constantFrom(
  '{"alg":"HS256","typ":"JWT"}',
  '{"alg":"none","typ":"JWT"}',
  '{"alg":"HS512","typ":"JWT"}',
  '{"alg":"RS256","typ":"JWT"}',
  '{"alg":"ES256"}',
  '{"alg":"HS256","kid":"../../dev/null"}',
  '{"alg":"HS256","jku":"https://evil.example/jwks"}',
  '{}',
  '[]',
  'null',
  'not json',
)

const jwtPayload = fc.oneof(
  fc
    .record({
      sub: fc.oneof(
        fc.constantFrom<unknown>(
          '1',
          1,
          -1,
          0,
          '0',
          '-1',
          'abc',
          '1e400',
          null,
          true,
          {},
          [],
          '1'.repeat(200),
        ),
        fc.uuid(),
        fc.nat().map(String),
      ),
      exp: fc.oneof(
        fc.constantFrom<unknown>(9_999_999_999, -1, 0, '__1e400__', '9999999999', null),
        fc.nat(),
      ),
      iat: fc.constantFrom<unknown>(0, 1, -1, 'x', '__1e400__'),
      iss: fc.constantFrom<unknown>('fastify-users', 'evil', 1),
      purpose: fc.constantFrom<unknown>('access', 'session', 'verify', 'reset', 'x', 1),
      ver: fc.constantFrom<unknown>(0, 1, -1, 'x', '__1e400__'),
    })
    .map((claims) => JSON.stringify(claims).replaceAll('"__1e400__"', '1e400')),
  fc.constantFrom('{}', '[]', 'null', '"x"', 'garbage', '{"sub":"1","exp":1e400}'),
)

/** Strings shaped like a JWT (three base64url parts), with hostile headers, claims and signatures. */
export const jwtShaped: fc.Arbitrary<string> = fc
  .tuple(jwtHeader, jwtPayload, fc.oneof(fc.base64String({ maxLength: 64 }), fc.constantFrom('', 'x', '.')))
  .map(
    ([header, payload, signature]) =>
      `${base64url(header)}.${base64url(payload)}.${signature.replace(/=+$/, '')}`,
  )

/** Values of the `Authorization` header. */
export const fuzzAuthorization: fc.Arbitrary<string> = fc.oneof(
  jwtShaped.map((t) => `Bearer ${t}`),
  jwtShaped.map((t) => `bearer  ${t}`),
  jwtShaped,
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Bearer  ',
    'Basic YWRtaW46YWRtaW4=',
    'Bearer a.b',
    'Bearer a.b.c.d',
    'Bearer ...',
    'Negotiate x',
    'Bearer %00',
    'Bearer null',
  ),
  fc.constantFrom(1000, 9000).map((n) => `Bearer ${'a'.repeat(n)}.${'b'.repeat(n)}.${'c'.repeat(n)}`),
  printable,
)

/** Values of the `Cookie` header, for a credential cookie of the given name. */
export function fuzzCookie(cookieName: string): fc.Arbitrary<string> {
  const value = fc.oneof(
    jwtShaped,
    printable.map((s) => s.replace(/[;,\s]/g, '')),
    fc.constantFrom('', '""', '"', '%', '%00', '%zz', 'deleted', 'null', 'a'.repeat(5000)),
    fc.base64String({ maxLength: 80 }),
    fc.string({ maxLength: 20 }).map((s) => percentEncode(s)),
  )
  return fc.oneof(
    value.map((v) => `${cookieName}=${v}`),
    fc.tuple(value, value).map(([a, b]) => `${cookieName}=${a}; ${cookieName}=${b}`),
    value.map((v) => `other=1; ${cookieName}=${v}; last=2`),
    fc.constantFrom(
      ';',
      ';;;',
      '=',
      '=;=',
      `${cookieName}`,
      `${cookieName}=`,
      `;${cookieName}=x`,
      '__proto__=1',
      'constructor=1',
    ),
    printable,
  )
}

/** `Origin` and `Sec-Fetch-Site` combinations, some absent. */
export const fuzzOriginHeaders = (baseUrl: string): fc.Arbitrary<Record<string, string>> =>
  fc
    .record(
      {
        origin: fc.constantFrom(
          baseUrl,
          `${baseUrl}:443`,
          baseUrl.replace('https:', 'http:'),
          `${baseUrl}.evil.example`,
          'https://evil.example',
          'null',
          'garbage',
          '',
          'https://',
          `${baseUrl}/path`,
        ),
        'sec-fetch-site': fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none', 'garbage', ''),
        referer: fc.constantFrom(`${baseUrl}/`, 'https://evil.example/', 'garbage'),
      },
      { requiredKeys: [] },
    )
    .map((headers) => headers as Record<string, string>)
