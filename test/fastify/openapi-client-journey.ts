/**
 * The source of a small client program written against the types openapi-typescript generates from
 * `/openapi.json`, the way an application team would write it with openapi-fetch. The contract test writes
 * it next to the generated types, type-checks it under `strict` and runs it against a listening server.
 *
 * It is a string, not a module of the repository: it imports types that exist only at test time.
 */

/** What the program reports of each answer, for the test to check against the document. */
export interface Answer {
  /** The path template of the operation (`/users/{id}`), as openapi-fetch matched it. */
  path: string
  method: string
  status: number
  headers: Record<string, string>
  body: string
}

/** What the test hands the program. */
export interface JourneyOptions {
  baseUrl: string
  /** The token of the last mail to an address whose subject matches. */
  tokenFor(address: string): Promise<string>
  check(answer: Answer): Promise<void>
  /** A fresh, unused address. */
  email: string
  password: string
}

/**
 * The client program for a backend: register, verify through `?token=`, login, me, patch me, logout, and
 * typed errors (400, 401, 403) whose `code` is read without a cast, which fails to type-check when the
 * document leaves error answers undocumented (openapi-fetch then types them `never`).
 */
export function journeySource(typesModule: string, bearer: boolean): string {
  return `import createClient from 'openapi-fetch'
import type { components, paths } from './${typesModule}'

type Problem = components['schemas']['FastifyUsersProblem']

interface Answer { path: string; method: string; status: number; headers: Record<string, string>; body: string }
interface JourneyOptions {
  baseUrl: string
  tokenFor(address: string): Promise<string>
  check(answer: Answer): Promise<void>
  email: string
  password: string
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error('journey: ' + message)
}

// Reads \`status\` and \`code\` off the error: on an error typed \`never\` (undocumented), that fails to type-check.
function expectProblem(problem: Pick<Problem, 'status' | 'code'>, status: number, code: string): void {
  expect(problem.status === status && problem.code === code, 'wanted ' + status + ' ' + code + ', got ' + JSON.stringify(problem))
}

export async function journey(options: JourneyOptions): Promise<number> {
  const client = createClient<paths>({ baseUrl: options.baseUrl })
  let credential: string | null = null
  let answers = 0
  client.use({
    onRequest({ request }) {
      if (credential !== null) request.headers.set(${bearer ? "'authorization', 'Bearer ' + credential" : "'cookie', credential"})
      return request
    },
    async onResponse({ request, response, schemaPath }) {
      const headers: Record<string, string> = {}
      response.headers.forEach((value, name) => {
        headers[name] = value
      })
      answers += 1
      await options.check({
        path: schemaPath,
        method: request.method.toLowerCase(),
        status: response.status,
        headers,
        body: await response.clone().text(),
      })
      ${
        bearer
          ? ''
          : `const cookie = response.headers.getSetCookie().find((c) => !/max-age=0|expires=thu, 01 jan 1970/i.test(c))
      if (cookie !== undefined && request.url.endsWith('/login')) credential = cookie.split(';')[0] ?? null`
      }
      return response
    },
  })
  const { email, password } = options

  const registered = await client.POST('/register', { body: { email, password, displayName: 'José' } })
  expect(registered.response.status === 202 && registered.data !== undefined, 'register answers 202')
  const message: string = registered.data.message
  expect(message.length > 0, 'register says what happens next')

  const malformed = await client.POST('/register', { body: { email: 'not-an-address', password } })
  expect(malformed.error !== undefined, 'ERR_VALIDATION')
  expectProblem({ status: malformed.error.status, code: malformed.error.code }, 400, 'ERR_VALIDATION')
  expect((malformed.error.errors ?? []).some((e) => e.field === 'email'), 'the problem names the field')

  const early = await client.POST('/login', { body: { email, password } })
  expect(early.error !== undefined, 'ERR_NOT_VERIFIED')
  expectProblem({ status: early.error.status, code: early.error.code }, 403, 'ERR_NOT_VERIFIED')

  // The token as a query parameter, the way a mailed link carries it: no token in the body.
  const token = await options.tokenFor(email)
  const verified = await client.POST('/verify', { params: { query: { token } }, body: { password } })
  expect(verified.data !== undefined, 'verify answers the user: ' + JSON.stringify(verified.error))
  expect(verified.data.isVerified && verified.data.email === email, 'verified, with the address as registered')

  const wrong = await client.POST('/login', { body: { email, password: password + '!' } })
  expect(wrong.error !== undefined, 'ERR_INVALID_CREDENTIALS')
  expectProblem({ status: wrong.error.status, code: wrong.error.code }, 401, 'ERR_INVALID_CREDENTIALS')

  const login = await client.POST('/login', { body: { email, password } })
  expect(login.data !== undefined, 'login answers 200: ' + JSON.stringify(login.error))
  ${
    bearer
      ? `const accessToken: string = login.data.accessToken
  expect(login.data.tokenType === 'Bearer' && login.data.expiresIn > 0, 'a Bearer token')
  credential = accessToken`
      : `expect(credential !== null, 'login sets the credential cookie')`
  }

  const me = await client.GET('/users/me')
  expect(me.data !== undefined && me.data.email === email, 'GET /users/me answers the user')
  const createdAt: string = me.data.createdAt
  expect(!Number.isNaN(Date.parse(createdAt)), 'createdAt is a date-time')

  const patched = await client.PATCH('/users/me', { body: { displayName: 'Ada' } })
  expect(patched.data !== undefined && patched.data.displayName === 'Ada', 'PATCH /users/me updates the field')

  const admin = await client.GET('/users', { params: { query: { limit: 10 } } })
  expect(admin.error !== undefined, 'ERR_FORBIDDEN')
  expectProblem({ status: admin.error.status, code: admin.error.code }, 403, 'ERR_FORBIDDEN')

  const out = await client.POST('/logout')
  expect(out.response.status === 204, 'logout answers 204')

  // The same credential, sent again after logout: refused.
  const after = await client.GET('/users/me')
  expect(after.error !== undefined, 'ERR_UNAUTHENTICATED')
  expectProblem({ status: after.error.status, code: after.error.code }, 401, 'ERR_UNAUTHENTICATED')
  return answers
}
`
}

/**
 * The source of a client program for an application with verification off: registering answers 201 with
 * the user, and registering the same address again a typed 409 `ERR_USER_EXISTS`.
 */
export function duplicateRegistrationSource(typesModule: string): string {
  return `import createClient from 'openapi-fetch'
import type { paths } from './${typesModule}'

interface Answer { path: string; method: string; status: number; headers: Record<string, string>; body: string }

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error('journey: ' + message)
}

export async function journey(options: {
  baseUrl: string
  check(answer: Answer): Promise<void>
  email: string
  password: string
}): Promise<number> {
  const client = createClient<paths>({ baseUrl: options.baseUrl })
  let answers = 0
  client.use({
    async onResponse({ request, response, schemaPath }) {
      const headers: Record<string, string> = {}
      response.headers.forEach((value, name) => {
        headers[name] = value
      })
      answers += 1
      await options.check({
        path: schemaPath,
        method: request.method.toLowerCase(),
        status: response.status,
        headers,
        body: await response.clone().text(),
      })
      return response
    },
  })
  const { email, password } = options
  const first = await client.POST('/register', { body: { email, password } })
  expect(first.response.status === 201 && first.data !== undefined, 'register answers 201 with the user')
  const verified: boolean = first.data.isVerified
  expect(verified && first.data.email === email, 'verified at once')

  const again = await client.POST('/register', { body: { email, password } })
  expect(again.error !== undefined, 'a second registration is refused')
  const code: string = again.error.code
  expect(again.error.status === 409 && code === 'ERR_USER_EXISTS', 'wanted 409 ERR_USER_EXISTS, got ' + code)
  return answers
}
`
}
