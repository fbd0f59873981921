/**
 * How the error handler logs: the library's expected 503s (storage unavailable, busy, shutting down) once
 * per request as a warning with their code and the cause's message, without a stack; a real bug (any other
 * error that answers 500) as an error with its stack; the client sees neither.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Fastify from 'fastify'
import { errorHandler } from '../../src/fastify/error-handler.js'
import { BusyError, DatabaseUnavailableError } from '../../src/kernel/errors.js'

interface LogLine {
  level: number
  msg: string
  code?: string
  cause?: string
  err?: { stack?: string }
  reqId?: string
}

async function answerAndLog(thrown: () => Error) {
  const lines: LogLine[] = []
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    disableRequestLogging: true,
  })
  app.setErrorHandler(errorHandler)
  app.get('/x', async () => {
    throw thrown()
  })
  const res = await app.inject({ method: 'GET', url: '/x' })
  await app.close()
  return { res, lines }
}

describe('error-handler logging', () => {
  it('storage unavailable: one warning with the code and the cause, no stack', async () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
    const { res, lines } = await answerAndLog(() => new DatabaseUnavailableError({ cause }))
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['retry-after'], '2')
    assert.equal(lines.length, 1, JSON.stringify(lines))
    const [line] = lines as [LogLine]
    assert.equal(line.level, 40, 'a warning')
    assert.equal(line.code, 'ERR_DATABASE_UNAVAILABLE')
    assert.equal(line.cause, 'connect ECONNREFUSED 127.0.0.1:6379')
    assert.ok(line.reqId, 'tied to its request')
    const text = JSON.stringify(line)
    assert.ok(!text.includes('    at '), `no stack: ${text}`)
    assert.ok(!res.body.includes('ECONNREFUSED'), 'the client is not told the cause')
  })

  it('a full hash queue is a warning too', async () => {
    const { res, lines } = await answerAndLog(() => new BusyError())
    assert.equal(res.statusCode, 503)
    assert.deepEqual(
      lines.map((l) => [l.level, l.code]),
      [[40, 'ERR_BUSY']],
    )
  })

  it('a bug stays an error with its stack, and the client gets a generic 500', async () => {
    const { res, lines } = await answerAndLog(() => new TypeError('cannot read x of undefined'))
    assert.equal(res.statusCode, 500)
    assert.ok(!res.body.includes('cannot read'), res.body)
    assert.equal(lines.length, 1)
    const [line] = lines as [LogLine]
    assert.equal(line.level, 50, 'an error')
    assert.match(line.err?.stack ?? '', /TypeError: cannot read x of undefined\n\s+at /)
  })
})
