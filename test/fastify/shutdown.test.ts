/**
 * `closeOnSignals` on a real server in a child process, over real sockets on 127.0.0.1. The defect: with
 * a request in flight at SIGTERM, shutdown waited for keep-alive connections to time out (~70 s), a
 * client that sent half a request kept it alive past 90 s, requests arriving then got ECONNRESET or a
 * bare 503. Now: idle connections close at once, the in-flight request is answered, new requests get 503
 * problem+json or a refused connection, and the process exits 0 within the bound.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const tsx = import.meta.resolve('tsx')
const fixture = fileURLToPath(new URL('./fixtures/shutdown-server.ts', import.meta.url))
const TIMEOUT_MS = 4_000

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

function request(port: number, path: string, agent: http.Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** Opens a socket and writes part of a request, never the rest. */
async function halfSent(port: number, text: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(text)
  socket.on('error', () => {})
  return socket
}

describe('closeOnSignals: bounded graceful shutdown', () => {
  let dir: string
  let child: ChildProcess
  let output = ''
  // Generous: tsx compiles the plugin at start, on a shared and loaded machine.
  const waitFor = async (pattern: RegExp, ms = 60_000): Promise<RegExpMatchArray> => {
    for (let i = 0; i < ms / 25; i++) {
      const match = pattern.exec(output)
      if (match) return match
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    throw new Error(`timed out waiting for ${pattern}; output:\n${output}`)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fu-shutdown-'))
  })
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('answers the request in flight, refuses new ones cleanly and exits 0 within the bound', async () => {
    child = spawn(process.execPath, ['--import', tsx, fixture], {
      env: { ...process.env, DB_FILE: join(dir, 'users.db'), SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (c: Buffer) => {
      output += c.toString()
    })
    child.stderr!.on('data', (c: Buffer) => {
      output += c.toString()
    })
    const port = Number((await waitFor(/listening (\d+)/))[1])

    // Keep-alive clients that are idle at the signal.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
    const warm = await Promise.all([1, 2, 3].map(() => request(port, '/users/me', agent)))
    for (const res of warm) assert.equal(res.status, 401)
    // Half a request: headers without their end, and a body shorter than its Content-Length.
    const halfHeaders = await halfSent(port, 'GET /users/me HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    // A request whose headers are on their way at the signal, and complete just after it.
    const arriving = await halfSent(port, 'GET /users/me HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    let arrivingText = ''
    arriving.setEncoding('utf8')
    arriving.on('data', (c: string) => {
      arrivingText += c
    })
    const halfBody = await halfSent(
      port,
      'POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"email":',
    )
    // A slow request in flight, on a raw socket with a second request pipelined behind it.
    const pipelined = await halfSent(
      port,
      'GET /slow?ms=1200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /users/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    )
    let pipelinedText = ''
    pipelined.setEncoding('utf8')
    pipelined.on('data', (c: string) => {
      pipelinedText += c
    })
    const slow = request(port, '/slow?ms=1500', false)
    await waitFor(/slow started\n[\s\S]*slow started/)

    const started = Date.now()
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 100))
    arriving.write('\r\n')

    // New requests: a clean 503 problem or a refused connection, never a reset mid-answer.
    const late = await Promise.allSettled([1, 2, 3, 4, 5].map(() => request(port, '/users/me', false)))
    for (const result of late) {
      if (result.status === 'fulfilled') {
        assert.equal(result.value.status, 503, result.value.body)
        assert.match(String(result.value.headers['content-type']), /^application\/problem\+json/)
        assert.equal(JSON.parse(result.value.body).code, 'ERR_SHUTTING_DOWN')
      } else {
        assert.equal((result.reason as NodeJS.ErrnoException).code, 'ECONNREFUSED', String(result.reason))
      }
    }

    const answered = await slow
    assert.equal(answered.status, 200, answered.body)
    assert.deepEqual(JSON.parse(answered.body), { slept: 1500 })

    const [code, signal] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`still running ${TIMEOUT_MS + 5_000} ms after SIGTERM`)),
          TIMEOUT_MS + 5_000,
        ),
      ),
    ])
    const elapsed = Date.now() - started
    assert.equal(signal, null, output)
    assert.equal(code, 0, output)
    assert.ok(elapsed < TIMEOUT_MS + 1_000, `exited after ${elapsed} ms`)

    // The request that arrived during the drain: 503 problem+json, and the connection closes.
    assert.match(arrivingText, /^HTTP\/1\.1 503 /)
    assert.match(arrivingText, /\r\nconnection: close\r\n/i)
    assert.match(arrivingText, /\r\nretry-after: \d+\r\n/i)
    assert.match(arrivingText, /\r\ncontent-type: application\/problem\+json/i)
    assert.match(arrivingText, /"code":"ERR_SHUTTING_DOWN"/)
    // The slow answer on the pipelined connection says it is the last one; the request behind it was not
    // processed, which `Connection: close` tells the client (it may retry it elsewhere).
    assert.match(pipelinedText, /^HTTP\/1\.1 200 [\s\S]*\r\nconnection: close\r\n[\s\S]*\{"slept":1200\}/i)
    assert.doesNotMatch(pipelinedText.replace(/^HTTP\/1\.1 200 /, ''), /HTTP\/1\.1 (?!503)/)
    for (const socket of [halfHeaders, halfBody, pipelined, arriving]) {
      assert.ok(socket.destroyed || socket.readableEnded)
    }
    agent.destroy()
    assert.doesNotMatch(output, /Error|ECONNRESET|unhandled/i)
  })
})
