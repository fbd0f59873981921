/**
 * Route-config guards hold even for routes declared before the plugin finished loading (an application
 * that registers the plugin without awaiting it): they must never fail open.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import Fastify from 'fastify'
import { fastifyUsers } from '../../src/fastify/index.js'
import { SECRET } from './build-app.js'

describe('route-config guards without awaiting the plugin', () => {
  const app = Fastify()
  after(() => app.close())

  it('guards a route declared right after a registration that was not awaited', async () => {
    void app.register(fastifyUsers, {
      secret: SECRET,
      database: 'sqlite::memory:',
      migrate: true,
      openapi: false,
    })
    app.get('/admin-only', { config: { rolesAccepted: ['admin'] } }, async () => ({ secret: 'data' }))
    app.get('/members', { config: { requireUser: true } }, async () => ({ ok: true }))
    await app.ready()
    for (const url of ['/admin-only', '/members']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 401, url)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.doesNotMatch(res.body, /data/)
    }
  })
})
