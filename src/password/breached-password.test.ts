/**
 * The breached-password check against a local fake range server (node:http on 127.0.0.1) that answers
 * like the Pwned Passwords range API: only a 5-hex-digit SHA-1 prefix is sent, the match is local.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { BusyError, PasswordPolicyError } from '../kernel/errors.js'
import type { Logger } from '../kernel/logger.js'
import { BreachedPasswordCheck } from './breached-password.js'
import { PasswordPolicy } from './password-policy.js'

const BREACHED = 'Tr0ub4dor&3 horse'
const ONCE = 'breached exactly once'
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex').toUpperCase()

describe('breached-password check (k-anonymity range query)', () => {
  let server: Server
  let url: string
  const seen: IncomingMessage[] = []
  let mode: 'ok' | 'error' | 'hang' = 'ok'

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req)
      if (mode === 'hang') return // never answers: the client's timeout must fire
      if (mode === 'error') {
        res.writeHead(500).end()
        return
      }
      const prefix = (req.url ?? '').split('/').at(-1) ?? ''
      const lines = ['0000000000000000000000000000000000A:0'] // padding entry
      for (const [password, count] of [
        [BREACHED, 42],
        [ONCE, 1],
      ] as const) {
        const hash = sha1(password)
        if (hash.startsWith(prefix)) lines.push(`${hash.slice(5)}:${count}`)
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/range/`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('finds a breached password and sends only the 5-digit prefix, with padding asked for', async () => {
    mode = 'ok'
    seen.length = 0
    const check = new BreachedPasswordCheck({ url })
    assert.equal(await check.isBreached(BREACHED), true)
    assert.equal(await check.isBreached('correct horse battery staple'), false)
    assert.equal(seen.length, 2)
    assert.equal(seen[0]?.url, `/range/${sha1(BREACHED).slice(0, 5)}`)
    assert.equal(seen[0]?.headers['add-padding'], 'true')
    for (const req of seen) assert.doesNotMatch(req.url ?? '', /horse|[0-9A-F]{6}/)
  })

  it('honours minBreaches', async () => {
    mode = 'ok'
    assert.equal(await new BreachedPasswordCheck({ url, minBreaches: 2 }).isBreached(ONCE), false)
    assert.equal(await new BreachedPasswordCheck({ url, minBreaches: 2 }).isBreached(BREACHED), true)
  })

  it('refuses a breached password through the policy with reason "breached"', async () => {
    mode = 'ok'
    const policy = new PasswordPolicy({ breached: { url } })
    await assert.rejects(policy.validate(BREACHED), (err) => {
      assert.ok(err instanceof PasswordPolicyError)
      assert.equal(err.reason, 'breached')
      return true
    })
    await policy.validate('correct horse battery staple')
  })

  it('fails open by default with a logged warning, on a server error and on a timeout', async () => {
    const warnings: Record<string, unknown>[] = []
    const logger: Logger = { info() {}, error() {}, warn: (obj) => warnings.push(obj) }
    const policy = new PasswordPolicy({ breached: { url, timeoutMs: 200 } }, logger)
    mode = 'error'
    await policy.validate(BREACHED)
    mode = 'hang'
    await policy.validate(BREACHED)
    assert.equal(warnings.length, 2)
    assert.equal(warnings[0]?.event, 'breach_check_unavailable')
    assert.doesNotMatch(JSON.stringify(warnings), /Tr0ub4dor/)
  })

  it('fails closed when configured: BusyError (503), never a silently unchecked password', async () => {
    const policy = new PasswordPolicy({ breached: { url, timeoutMs: 200, onError: 'closed' } })
    mode = 'error'
    await assert.rejects(policy.validate('correct horse battery staple'), BusyError)
    mode = 'hang'
    await assert.rejects(policy.validate('correct horse battery staple'), BusyError)
  })

  it('is off by default', () => {
    assert.equal(new PasswordPolicy().breached, null)
  })
})
