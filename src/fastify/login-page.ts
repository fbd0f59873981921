/**
 * The plugin's login page, served with the other pages (`pages` on) at `GET <loginPath>`: a password form
 * that posts JSON to the login route of the same path, and one "Sign in with <Provider>" link per
 * configured identity provider. Both go to the same return target, taken from `?redirectTo=` only when it
 * is in `oauth.redirectAllowList`.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { relativeReference } from './pages.js'
import { pageSecurityHeaders } from './security-headers.js'

/** Where the login page's script is served. */
export const LOGIN_SCRIPT_PATH = '/fastify-users-login.js'

// A file from the plugin's origin, as for the other pages: no inline script. The page's own answers
// (problem documents) are shown; a 202 (a second factor is asked for) is reported, not completed here.
const SCRIPT = `'use strict'
;(() => {
  const form = document.querySelector('form[data-api]')
  const output = document.querySelector('output')
  if (!form || !output) return
  form.hidden = false
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const body = {}
    for (const input of form.querySelectorAll('input[name]')) body[input.name] = input.value
    output.textContent = ''
    try {
      const response = await fetch(form.dataset.api, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      })
      if (response.status === 200) return location.assign(form.dataset.done)
      const problem = await response.json().catch(() => null)
      output.textContent =
        response.status === 202
          ? 'This account asks for a second step, which this page cannot do yet.'
          : (problem && problem.detail) || 'That did not work (' + response.status + '). Try again.'
    } catch {
      output.textContent = 'The server could not be reached. Try again.'
    }
  })
})()
`

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}' +
  'input,button{font:inherit}label{display:block;margin:1rem 0}input{display:block;width:100%;box-sizing:border-box}' +
  'output{display:block;margin:1rem 0;font-weight:600}ul.providers{list-style:none;padding:0}' +
  'ul.providers a{display:block;margin:.5rem 0;padding:.5rem;border:1px solid;text-align:center}'

const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: [`'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`],
  connectSrc: ["'self'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
}

/**
 * Escapes text for HTML content and double- or single-quoted attributes.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"x"</b>') // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )
}

/**
 * One provider button: its name in the routes and the label shown after "Sign in with".
 *
 * @example
 * ```ts
 * const button: ProviderButton = { name: 'github', label: 'GitHub' }
 * ```
 */
export interface ProviderButton {
  name: string
  label: string
}

/**
 * The "Sign in with <Provider>" links, each to `GET <prefix>/oauth/<name>/authorize?redirectTo=<target>`.
 * Everything is escaped; an empty list renders nothing.
 *
 * @example
 * ```ts
 * renderProviderButtons([{ name: 'github', label: 'GitHub' }], '', '/account')
 * // '<ul class="providers"><li><a href="/oauth/github/authorize?redirectTo=%2Faccount">Sign in with GitHub</a></li></ul>'
 * ```
 */
export function renderProviderButtons(
  providers: readonly ProviderButton[],
  prefix: string,
  redirectTo: string,
): string {
  if (providers.length === 0) return ''
  const items = providers.map((provider) => {
    const href = `${prefix}/oauth/${encodeURIComponent(provider.name)}/authorize?redirectTo=${encodeURIComponent(redirectTo)}`
    return `<li><a href="${escapeHtml(href)}">Sign in with ${escapeHtml(provider.label)}</a></li>`
  })
  return `<ul class="providers">${items.join('')}</ul>`
}

/**
 * What {@link registerLoginPage} needs from the plugin.
 *
 * @example
 * ```ts
 * const setup: LoginPageSetup = { loginPath: '/login', identifier: 'email', providers: [], allowList: ['/'], appName: 'Acme', https: true, onRoute: () => {} }
 * ```
 */
export interface LoginPageSetup {
  /** The login route's path (the page answers `GET` there). */
  loginPath: string
  /** The field the login route takes the user by (`email` or `username`). */
  identifier: string
  providers: readonly ProviderButton[]
  /** The allowed return targets; the first one is used without (or with an unknown) `redirectTo`. */
  allowList: readonly string[]
  appName: string
  https: boolean
  onRoute: (route: RouteOptions) => void
}

/**
 * Registers the login page and its script in an encapsulated context behind the pages' security headers.
 *
 * @example
 * ```ts
 * registerLoginPage(fastify, { loginPath: '/login', identifier: 'email', providers, allowList: ['/'], appName, https, onRoute })
 * ```
 */
export function registerLoginPage(fastify: FastifyInstance, setup: LoginPageSetup): void {
  const prefix = fastify.prefix
  const page = `${prefix}${setup.loginPath}`
  const script = relativeReference(page, `${prefix}${LOGIN_SCRIPT_PATH}`)
  const api = relativeReference(page, page)
  const identifierField =
    setup.identifier === 'email'
      ? '<label>Email <input name="email" type="email" autocomplete="username" required></label>'
      : `<label>${setup.identifier === 'username' ? 'Username' : 'Login'} <input name="${escapeHtml(setup.identifier)}" autocomplete="username" required></label>`
  fastify.register((scope, _opts, done) => {
    scope.addHook('onRoute', (route) => setup.onRoute(route))
    pageSecurityHeaders(scope, { https: setup.https, directives: CSP_DIRECTIVES })
    const hidden = { schema: { hide: true } }
    scope.get(LOGIN_SCRIPT_PATH, hidden, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(SCRIPT),
    )
    scope.get(setup.loginPath, hidden, async (request, reply) => {
      const asked = (request.query as Record<string, unknown> | undefined)?.redirectTo
      const target =
        typeof asked === 'string' && setup.allowList.includes(asked) ? asked : setup.allowList[0]!
      const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · ${escapeHtml(setup.appName)}</title>
<style>${STYLE}</style>
<script src="${escapeHtml(script)}" defer></script>
</head>
<body>
<h1>Log in</h1>
<form data-api="${escapeHtml(api)}" data-done="${escapeHtml(target)}" hidden>
${identifierField}
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
<output aria-live="polite"></output>
${renderProviderButtons(setup.providers, prefix, target)}
</body>
</html>
`
      return reply.type('text/html; charset=utf-8').send(html)
    })
    done()
  })
}
