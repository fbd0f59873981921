// Nothing is registered in this project: the library's own types apply, and custom fields derive from
// their schemas. Imported by package name, as an application does (from the built declarations).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type {
  BaseUser,
  BaseUserService,
  PublicUser,
  RegisteredUser,
  Role,
  UserFieldSchema,
  UserWith,
} from 'fastify-users'
import type { FastifyUsersOptions, RequestUser } from 'fastify-users/fastify'
import { describe, expect, test } from 'tstyche'
import { Type } from 'typebox'

const userFields = {
  displayName: Type.String({ maxLength: 100 }),
  loginCount: Type.Integer({ minimum: 0 }),
  plan: Type.Union([Type.Literal('free'), Type.Literal('pro')]),
  newsletter: { type: 'boolean' } as const,
}
type AppUser = UserWith<typeof userFields>

describe('with nothing registered', () => {
  test('request.user is the public BaseUser', () => {
    expect<FastifyRequest['user']>().type.toBe<PublicUser<BaseUser> | null>()
    expect<RequestUser>().type.toBe<PublicUser<BaseUser>>()
    expect<RegisteredUser>().type.toBe<BaseUser>()
  })

  test('app.users is a BaseUserService of BaseUser', () => {
    expect<FastifyInstance['users']>().type.toBe<BaseUserService<BaseUser, Role, FastifyRequest>>()
  })

  test('request.user has no password hash', () => {
    expect<RequestUser>().type.not.toHaveProperty('passwordHash')
    expect<NonNullable<FastifyRequest['user']>>().type.toHaveProperty('email')
  })
})

describe('custom fields derived from schemas', () => {
  test('each field has the type of its schema, or null', () => {
    expect<AppUser['displayName']>().type.toBe<string | null>()
    expect<AppUser['loginCount']>().type.toBe<number | null>()
    expect<AppUser['plan']>().type.toBe<'free' | 'pro' | null>()
    expect<AppUser['newsletter']>().type.toBe<boolean | null>()
    expect<AppUser>().type.toBeAssignableTo<BaseUser>()
  })

  test('a value of the wrong type is a type error', () => {
    const user = {} as AppUser
    expect(() => {
      user.displayName = 42
    }).type.toRaiseError("Type '42' is not assignable")
    expect(() => {
      user.plan = 'gold'
    }).type.toRaiseError()
    expect(() => {
      user.missing = 1
    }).type.toRaiseError()
  })

  test('the userFields option takes TypeBox and JSON Schemas with every runtime keyword', () => {
    expect<FastifyUsersOptions['userFields']>().type.toBeAssignableFrom(userFields)
    const literal: Record<string, UserFieldSchema> = {
      displayName: { type: 'string', minLength: 1, maxLength: 100, pattern: '^\\S' },
      website: { type: 'string', format: 'uri', nullable: true },
      loginCount: { type: 'integer', minimum: 0, maximum: 1_000_000 },
      plan: { type: 'string', enum: ['free', 'pro'] },
      tier: Type.Union([Type.Literal(1), Type.Literal(2)]),
    }
    expect<FastifyUsersOptions['userFields']>().type.toBeAssignableFrom(literal)
    expect<UserFieldSchema>().type.not.toBeAssignableFrom({ type: 'string', maxLenght: 3 })
  })
})
