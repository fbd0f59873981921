/** Links in mails: built from the configured base URL only, with the token in the `#token=` fragment. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { composeUserMail, tokenFromLink, tokenLink } from '../../src/mail/messages.js'

describe('tokenLink', () => {
  it('resolves the page path under the base URL, prefix included', () => {
    assert.equal(tokenLink('https://x.com', '/verify', 'abc'), 'https://x.com/verify#token=abc')
    assert.equal(tokenLink('https://x.com/', 'verify', 'abc'), 'https://x.com/verify#token=abc')
    assert.equal(tokenLink('https://x.com/app', '/verify', 'abc'), 'https://x.com/app/verify#token=abc')
    assert.equal(
      tokenLink('https://x.com/app/', '/reset-password', 'a.b-c_d'),
      'https://x.com/app/reset-password#token=a.b-c_d',
    )
  })
  it('keeps the token out of the query, which servers and proxies log (the defect: ?token=)', () => {
    for (const kind of ['verification', 'password-reset', 'existing-account'] as const) {
      const token = 'eyJ.payload.sig+/='
      const mail = composeUserMail(kind, { to: 'a@x.com', token }, { baseUrl: 'https://x.com/app?lang=en' })
      const link = /https:\/\/\S+/.exec(mail.text)![0]
      const url = new URL(link)
      assert.equal(url.searchParams.get('token'), null, link)
      assert.doesNotMatch(url.search, /eyJ/, link)
      assert.equal(tokenFromLink(link), token, link)
      assert.ok(mail.html.includes(link.replaceAll('&', '&amp;')), 'the HTML part links to the same place')
    }
    assert.equal(tokenFromLink('https://x.com/verify?token=abc'), null)
    assert.equal(tokenFromLink('not a url'), null)
  })
  it('cannot be steered off the base by the path', () => {
    assert.equal(new URL(tokenLink('https://x.com/app', '//evil.example/p', 't')).host, 'x.com')
  })
})

describe('composeUserMail', () => {
  it('puts each link right after the sentence that leads to it (the "here:" link came before it)', () => {
    const kinds = [
      'verification',
      'password-reset',
      'existing-account',
      'email-change-confirm',
      'email-change-requested',
    ] as const
    for (const kind of kinds) {
      const mail = composeUserMail(
        kind,
        { to: 'a@x.com', token: 't', newEmail: 'b@x.com' },
        { baseUrl: 'https://x.com' },
      )
      const parts = mail.text.trim().split('\n\n')
      const at = parts.findIndex((p) => p.startsWith('https://x.com/'))
      assert.ok(at > 0, `${kind}: a link after some text`)
      const before = parts[at - 1]!
      // No text after the link ends with a colon: the sentence that announces the link precedes it.
      assert.ok(
        parts.slice(at + 1).every((p) => !p.endsWith(':')),
        `${kind}: ${mail.text}`,
      )
      // The HTML part has the same order: its link paragraph sits where the text's link does.
      const htmlAt = mail.html.split('</p>').findIndex((p) => p.includes('<a href='))
      assert.equal(htmlAt, at, `${kind}: ${mail.html}`)
      assert.ok(before.length > 0)
    }
    const existing = composeUserMail(
      'existing-account',
      { to: 'a@x.com', token: 't' },
      { baseUrl: 'https://x.com' },
    )
    const parts = existing.text.trim().split('\n\n')
    const at = parts.findIndex((p) => p.startsWith('https://x.com/reset-password#token='))
    assert.match(parts[at - 1]!, /here:$/)
    assert.equal(existing.html.indexOf('here:') < existing.html.indexOf('<a href='), true)
  })
  it('escapes user-controlled text in the HTML part', () => {
    const mail = composeUserMail(
      'email-changed',
      { to: 'a@x.com', newEmail: '<script>@x.com' },
      { baseUrl: 'https://x.com' },
    )
    assert.doesNotMatch(mail.html, /<script>/)
    assert.match(mail.html, /&lt;script&gt;/)
  })
  it('refuses to build a link mail without a token', () => {
    assert.throws(
      () => composeUserMail('verification', { to: 'a@x.com' }, { baseUrl: 'https://x.com' }),
      TypeError,
    )
  })
})
