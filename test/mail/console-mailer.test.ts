/**
 * `ConsoleMailer`: one line per mail, with the recipient, the subject and the full link.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConsoleMailer, composeUserMail, formatMailLine, tokenFromLink } from '../../src/mail/index.js'

const LINKS = { baseUrl: 'http://127.0.0.1:3000', appName: 'demo' }

function capture() {
  const chunks: string[] = []
  return { chunks, stream: { write: (chunk: string) => chunks.push(chunk) } }
}

describe('ConsoleMailer', () => {
  it('writes one line per mail with the full link', async () => {
    const { chunks, stream } = capture()
    const mailer = new ConsoleMailer({ stream })
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'
    await mailer.send(composeUserMail('verification', { to: 'ada@example.com', token }, LINKS))
    await mailer.send(composeUserMail('password-reset', { to: 'bob@example.com', token: 'r.e.set' }, LINKS))
    await mailer.send(composeUserMail('password-changed', { to: 'ada@example.com' }, LINKS))

    assert.equal(chunks.length, 3)
    for (const chunk of chunks) assert.match(chunk, /^[^\n]*\n$/, 'exactly one line per mail')
    assert.equal(
      chunks[0],
      `[mail] to=ada@example.com subject="Verify your email address for demo" link=http://127.0.0.1:3000/verify#token=${token}\n`,
    )
    const link = /link=(\S+)/.exec(chunks[1]!)?.[1]
    assert.equal(tokenFromLink(link!), 'r.e.set')
    assert.equal(chunks[2], '[mail] to=ada@example.com subject="Your demo password was changed"\n')
  })

  it('quotes the subject so it cannot break the line', () => {
    const line = formatMailLine({
      to: 'a@example.com',
      subject: 'Hi "there"\nX: y',
      text: 'no link',
      html: '',
    })
    assert.equal(line, '[mail] to=a@example.com subject="Hi \\"there\\"\\nX: y"')
  })

  it('writes to stdout by default, with a configurable prefix', async () => {
    const { chunks, stream } = capture()
    await new ConsoleMailer({ stream, prefix: '[demo-mail]' }).send(
      composeUserMail('email-changed', { to: 'old@example.com', newEmail: 'new@example.com' }, LINKS),
    )
    assert.match(chunks[0]!, /^\[demo-mail\] to=old@example\.com subject=/)
    assert.doesNotThrow(() => new ConsoleMailer())
  })
})
