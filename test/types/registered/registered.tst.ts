// This project registers the application's user and service types, as an application does once.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import Fastify from 'fastify'
import {
  BaseUserService,
  type PublicUser,
  type RegisteredUser,
  type Role,
  type UserWith,
} from 'fastify-users'
import { requireUser } from 'fastify-users/fastify'
import { describe, expect, test } from 'tstyche'
import { Type } from 'typebox'

const userFields = {
  displayName: Type.String({ maxLength: 100 }),
  loginCount: Type.Integer({ minimum: 0 }),
}
type AppUser = UserWith<typeof userFields>

class AppService extends BaseUserService<AppUser, Role, FastifyRequest> {
  override async postLoginHook(user: AppUser): Promise<void> {
    await this.updateUser(user.id, { loginCount: (user.loginCount ?? 0) + 1 })
  }
  greeting(user: PublicUser<AppUser>): string {
    return `hello, ${user.displayName ?? user.email}`
  }
}

declare module 'fastify-users' {
  interface FastifyUsersRegister {
    user: AppUser
    service: AppService
  }
}

describe('with the user type registered', () => {
  test('request.user is the public AppUser', () => {
    expect<FastifyRequest['user']>().type.toBe<PublicUser<AppUser> | null>()
    expect<NonNullable<FastifyRequest['user']>['displayName']>().type.toBe<string | null>()
    expect<RegisteredUser>().type.toBe<AppUser>()
  })

  test('request.user has no password hash', () => {
    expect<NonNullable<FastifyRequest['user']>>().type.not.toHaveProperty('passwordHash')
  })

  test('app.users is the registered service', () => {
    expect<FastifyInstance['users']>().type.toBe<AppService>()
    const app = Fastify()
    expect(app.users.greeting).type.toBe<(user: PublicUser<AppUser>) => string>()
    expect(app.users.getUser).type.toBe<(id: AppUser['id']) => Promise<AppUser>>()
  })

  test('a handler behind requireUser() reads the custom fields without a cast', () => {
    const app = Fastify()
    app.get('/me', { preHandler: requireUser() }, async (request) => {
      expect(request.user?.displayName).type.toBe<string | null | undefined>()
      expect(() => {
        const n: number = request.user?.displayName ?? 0
        return n
      }).type.toRaiseError()
      return request.user
    })
  })

  test('hooks receive the registered user', () => {
    expect<Parameters<AppService['postLoginHook']>[0]>().type.toBe<AppUser>()
    expect<Parameters<FastifyInstance['users']['postRegistrationHook']>[0]>().type.toBe<AppUser>()
  })
})
