import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { renderProviderButtons } from './login-page.js'

describe('renderProviderButtons', () => {
  it('links each provider to its authorize route with the return target, everything escaped', () => {
    const html = renderProviderButtons(
      [
        { name: 'github', label: 'GitHub' },
        { name: 'evil', label: '<img src=x onerror=alert(1)> & "co"' },
      ],
      '/auth',
      '/a?b=1&c="2"',
    )
    assert.ok(html.includes('href="/auth/oauth/github/authorize?redirectTo=%2Fa%3Fb%3D1%26c%3D%222%22"'))
    assert.ok(html.includes('Sign in with GitHub</a>'))
    assert.ok(html.includes('Sign in with &lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;</a>'))
    assert.ok(!html.includes('<img'))
    assert.equal(renderProviderButtons([], '', '/'), '')
  })
})
