// Registering only the service is enough: the user type is read from it.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { type BaseUser, BaseUserService, type PublicUser, type RegisteredUser } from 'fastify-users'
import type { FastifyUsersService } from 'fastify-users/fastify'
import { describe, expect, test } from 'tstyche'

interface AppUser extends BaseUser {
  nickname: string | null
}
class AppService extends BaseUserService<AppUser> {}

declare module 'fastify-users' {
  interface FastifyUsersRegister {
    service: AppService
  }
}

describe('with only the service registered', () => {
  test('the user type comes from the service', () => {
    expect<RegisteredUser>().type.toBe<AppUser>()
    expect<FastifyRequest['user']>().type.toBe<PublicUser<AppUser> | null>()
    expect<FastifyInstance['users']>().type.toBe<AppService>()
    expect<FastifyUsersService>().type.toBe<AppService>()
  })
})
