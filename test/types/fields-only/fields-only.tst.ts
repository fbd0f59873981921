// A registered user type that names only the custom fields is added to BaseUser.
import type { FastifyRequest } from 'fastify'
import type { BaseUser, PublicUser, RegisteredUser } from 'fastify-users'
import type {} from 'fastify-users/fastify'
import { describe, expect, test } from 'tstyche'

declare module 'fastify-users' {
  interface FastifyUsersRegister {
    user: { nickname: string | null }
  }
}

describe('with only the custom fields registered', () => {
  test('they are added to BaseUser', () => {
    expect<RegisteredUser>().type.toBe<BaseUser & { nickname: string | null }>()
    expect<NonNullable<FastifyRequest['user']>>().type.toBe<
      PublicUser<BaseUser & { nickname: string | null }>
    >()
    expect<NonNullable<FastifyRequest['user']>>().type.toHaveProperty('nickname')
    expect<NonNullable<FastifyRequest['user']>>().type.not.toHaveProperty('passwordHash')
  })
})
