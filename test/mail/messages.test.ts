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
