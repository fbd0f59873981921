/**
 * The pages the mailed links open, served by the plugin when `pages` is on: verify an address, choose a
 * new password, confirm or cancel an email change. Each is a small server-rendered form; one same-origin
 * script reads the token from the link's fragment (`#token=`, which a browser never sends, so no server
 * log sees it) and posts it as JSON to the plugin's own API route, where the origin check and the JSON-only
 * body rule apply as to any client. Without JavaScript the page explains why it cannot go on: nothing else
 * can read a fragment.
 *
 * The pages never act on load: mail scanners and link previews fetch, and sometimes run, links, so a token
 * is redeemed only when the user presses the button.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, RouteOptions } from 'fastify'
import { sha256 } from '../kernel/digest.js'
import { LOGIN_SCRIPT, type ProviderButton, renderLoginPage } from './login-page.js'
import type { FastifyUsersOptions } from './options.js'
import { pageSecurityHeaders } from './security-headers.js'

/**
 * The four pages, named as in `linkPaths`.
 *
 * @example
 * ```ts
 * const name: PageName = 'confirmEmail'
 * ```
 */
export type PageName = 'verify' | 'reset' | 'confirmEmail' | 'cancelEmail'

/**
 * The `pages` option of the plugin, when it is an object. Every field is optional.
 *
 * @example
 * ```ts
 * const pages: PagesOptions = { paths: { verify: '/account/verify' }, appName: 'Acme' }
 * ```
 */
export interface PagesOptions {
  /**
   * Where each page is served, under the plugin's prefix. Default:
   * `{ verify: '/verify', reset: '/reset-password', confirmEmail: '/confirm-email', cancelEmail: '/cancel-email' }`
   * (the pages answer `GET`; the API routes of the same paths answer `POST`).
   */
  paths?: Partial<Record<PageName, string>>
  /** Where the pages' script is served. Default: `'/fastify-users-pages.js'`. */
  scriptPath?: string
  /** Name of the application in the pages' titles. Default: the plugin's `appName`, else `'fastify-users'`. */
  appName?: string
  /**
   * A login page (`GET`, beside the first backend's `POST /login`) with the second step when two-factor
   * is on: a code, a recovery code, or a passkey. `true` serves it at `/login`; `path` moves it; `next`
   * is where the browser goes once logged in (else the page says so). Needs a cookie backend first.
   * Default: `false`.
   */
  login?: boolean | { path?: string; next?: string }
}

/**
 * The default paths of the pages, which are also the default paths of the mailed links.
 *
 * @example
 * ```ts
 * DEFAULT_PAGE_PATHS.reset // '/reset-password'
 * ```
 */
export const DEFAULT_PAGE_PATHS: Readonly<Record<PageName, string>> = {
  verify: '/verify',
  reset: '/reset-password',
  confirmEmail: '/confirm-email',
  cancelEmail: '/cancel-email',
}

const DEFAULT_SCRIPT_PATH = '/fastify-users-pages.js'

/**
 * The pages after defaults and checks ({@link resolvePages} returns `null` when they are off).
 *
 * @example
 * ```ts
 * const { paths, scriptPath } = resolvePages(true)! // paths.verify '/verify', scriptPath '/fastify-users-pages.js'
 * ```
 */
export interface ResolvedPages {
  paths: Record<PageName, string>
  scriptPath: string
  appName: string | undefined
  /** The login page, or `null` when it is off. */
  login: { path: string; next: string | undefined } | null
}

const PATH = /^(\/[A-Za-z0-9._~-]+)+$/

/**
 * Checks the `pages` option: each path is a plain absolute path (no parameter, wildcard, query or
 * fragment), and no two are the same. Throws a `TypeError` naming the option otherwise.
 *
 * @example
 * ```ts
 * resolvePages(true)?.paths.verify // '/verify'
 * resolvePages({ paths: { verify: '/account/verify' } })?.paths.verify // '/account/verify'
 * resolvePages(undefined) // null
 * ```
 */
export function resolvePages(option: boolean | PagesOptions | undefined): ResolvedPages | null {
  if (option === undefined || option === false) return null
  if (option !== true && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw new TypeError(
      'fastify-users: option `pages` must be true, false or { paths?, scriptPath?, appName?, login? }',
    )
  }
  const given = option === true ? {} : option
  const paths = { ...DEFAULT_PAGE_PATHS }
  for (const [name, path] of Object.entries(given.paths ?? {})) {
    if (!Object.hasOwn(DEFAULT_PAGE_PATHS, name)) {
      throw new TypeError(
        `fastify-users: option \`pages.paths.${name}\` is unknown: use verify, reset, confirmEmail or cancelEmail`,
      )
    }
    if (path !== undefined) paths[name as PageName] = checkPath(`pages.paths.${name}`, path)
  }
  const scriptPath = checkPath('pages.scriptPath', given.scriptPath ?? DEFAULT_SCRIPT_PATH)
  const login = resolveLogin(given.login)
  const all = [...Object.values(paths), scriptPath, ...(login ? [login.path] : [])]
  const twice = all.find((path, i) => all.indexOf(path) !== i)
  if (twice) throw new TypeError(`fastify-users: option \`pages\` serves two things at '${twice}'`)
  if (given.appName !== undefined && typeof given.appName !== 'string') {
    throw new TypeError('fastify-users: option `pages.appName` must be a string')
  }
  return { paths, scriptPath, appName: given.appName, login }
}

function resolveLogin(option: PagesOptions['login']): ResolvedPages['login'] {
  if (option === undefined || option === false) return null
  if (option === true) return { path: '/login', next: undefined }
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('fastify-users: option `pages.login` must be true, false or { path?, next? }')
  }
  return {
    path: checkPath('pages.login.path', option.path ?? '/login'),
    next: option.next === undefined ? undefined : checkPath('pages.login.next', option.next),
  }
}

function checkPath(option: string, path: unknown): string {
  // Dot segments ('/./', '/../') would be resolved away by browsers before the request is sent.
  if (typeof path !== 'string' || !PATH.test(path) || path.split('/').some((part) => /^\.+$/.test(part))) {
    throw new TypeError(
      `fastify-users: option \`${option}\` must be a plain path such as '/verify' (letters, digits, '.', '_', '~', '-' between slashes); got ${JSON.stringify(path)}`,
    )
  }
  return path
}

/**
 * A reference from the page at `from` to `to` (both absolute paths on the same site) that does not start
 * with `/`: the browser resolves it against the page's own address, so it stays right when a proxy serves
 * the application under a path of its own (`https://example.com/app/verify` posts to
 * `https://example.com/app/verify`, not to `https://example.com/verify`).
 *
 * @example
 * ```ts
 * relativeReference('/auth/confirm-email', '/auth/users/me/email/confirm') // '../auth/users/me/email/confirm'
 * relativeReference('/verify', '/verify') // './verify'
 * ```
 */
export function relativeReference(from: string, to: string): string {
  const depth = from.split('/').length - 2
  return `${depth === 0 ? './' : '../'.repeat(depth)}${to.slice(1)}`
}

// Served as a file from the plugin's own origin, so the pages' policy needs no 'unsafe-inline' and no hash
// that a change of the text would silently break. It removes the token from the address bar and the
// history (a copied address or a screenshot does not carry it), shows the form only once it has a token,
// and posts the token (with the password fields the form has) as JSON to the form's `data-api`.
const SCRIPT = `'use strict'
;(() => {
  const form = document.querySelector('form[data-api]')
  const output = document.querySelector('output')
  if (!form || !output) return
  const token =
    new URLSearchParams(location.hash.slice(1)).get('token') ??
    new URLSearchParams(location.search).get('token') ??
    ''
  history.replaceState(null, '', location.pathname)
  if (!token) {
    output.textContent = 'This link has no code. Open the link from the mail as it is, without changing it.'
    return
  }
  form.hidden = false
  const button = form.querySelector('button')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const body = { token }
    const password = form.elements.namedItem('password')
    if (password) body.password = password.value
    const repeat = form.elements.namedItem('repeat')
    if (repeat && repeat.value !== body.password) {
      output.textContent = 'The two passwords differ.'
      return
    }
    button.disabled = true
    output.textContent = ''
    try {
      const response = await fetch(form.dataset.api, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      })
      if (response.ok) {
        form.hidden = true
        output.textContent = form.dataset.done
        return
      }
      const problem = await response.json().catch(() => null)
      output.textContent = (problem && problem.detail) || 'That did not work (' + response.status + '). Try again.'
    } catch {
      output.textContent = 'The server could not be reached. Try again.'
    } finally {
      button.disabled = false
    }
  })
})()
`

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}' +
  'input,button{font:inherit}label{display:block;margin:1rem 0}input{display:block;width:100%;box-sizing:border-box}' +
  'output{display:block;margin:1rem 0;font-weight:600}'

// Nothing loads but the script file and this one stylesheet, by its hash; the form never submits itself.
const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: [`'sha256-${sha256(STYLE, 'base64')}'`],
  connectSrc: ["'self'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
}

const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

const PASSWORD_FIELD =
  '<label>Your password <input name="password" type="password" autocomplete="current-password" required></label>'

interface PageContent {
  title: string
  /** The inside of the form, before its button. */
  fields: string
  button: string
  done: string
  /** A paragraph after the form. */
  note?: string
}

const CONTENT: Record<PageName, PageContent> = {
  // The account's password is asked for: a link alone must never make usable a password that whoever
  // clicks did not choose (someone else may have registered with this address).
  verify: {
    title: 'Verify your email address',
    fields: PASSWORD_FIELD,
    button: 'Verify my email address',
    done: 'Your email address is verified. You can log in now.',
    note: 'Did someone else create this account, or did you forget its password? Ask for a password reset instead: choosing your own password verifies the address too.',
  },
  reset: {
    title: 'Choose a new password',
    fields:
      '<label>New password <input name="password" type="password" autocomplete="new-password" required></label>' +
      '<label>The new password again <input name="repeat" type="password" autocomplete="new-password" required></label>',
    button: 'Set the new password',
    done: 'Your password is changed, and every session signed in with the old one has ended. Log in with the new one.',
  },
  confirmEmail: {
    title: 'Confirm your new email address',
    fields: PASSWORD_FIELD,
    button: 'Confirm my new email address',
    done: 'Your email address is changed, and every session has ended. Log in with the new address.',
  },
  cancelEmail: {
    title: 'Cancel the email change',
    fields: '',
    button: 'Cancel the change',
    done: 'The change is cancelled and every session has ended. If you did not ask for it, choose a new password now.',
  },
}

const NO_SCRIPT =
  'This page needs JavaScript. The code in your link comes after the “#” of the address, a part that browsers never send to a server (so no server log can record it); only a script in this page can read it. Turn JavaScript on for this site and open the link again.'

function renderPage(content: PageContent, app: string, api: string, script: string): string {
  const title = `${escapeHtml(content.title)} · ${escapeHtml(app)}`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${STYLE}</style>
<script src="${escapeHtml(script)}" defer></script>
</head>
<body>
<h1>${escapeHtml(content.title)}</h1>
<noscript><p>${NO_SCRIPT}</p></noscript>
<form data-api="${escapeHtml(api)}" data-done="${escapeHtml(content.done)}" hidden>
${content.fields}
<button type="submit">${escapeHtml(content.button)}</button>
</form>
<output aria-live="polite"></output>
${content.note ? `<p>${escapeHtml(content.note)}</p>` : ''}
</body>
</html>
`
}

/**
 * The API route each page posts to, from the route groups' paths; a page whose group is off is absent
 * (it would have nothing to post to).
 *
 * @example
 * ```ts
 * pagesApiPaths({ secret, database }).confirmEmail // '/users/me/email/confirm'
 * ```
 */
export function pagesApiPaths(
  options: Pick<FastifyUsersOptions, 'routes'>,
): Partial<Record<PageName, string>> {
  const { verification, passwordReset, currentUser } = options.routes ?? {}
  const api: Partial<Record<PageName, string>> = {}
  if (verification !== false) api.verify = verification?.path ?? '/verify'
  if (passwordReset !== false) api.reset = passwordReset?.resetPath ?? '/reset-password'
  if (currentUser !== false) {
    const base = currentUser?.path ?? '/users/me'
    api.confirmEmail = `${base}/email/confirm`
    api.cancelEmail = `${base}/email/cancel`
  }
  return api
}

/**
 * Where the mail links point: for each page that has an API route to post to, the page's own path under
 * the plugin's prefix. Empty when the pages are off (the links then use `linkPaths` or their defaults).
 *
 * @example
 * ```ts
 * pageLinks('/auth', resolvePages(true), pagesApiPaths({})).verify // '/auth/verify'
 * ```
 */
export function pageLinks(
  prefix: string,
  pages: ResolvedPages | null,
  api: Partial<Record<PageName, string>>,
): Partial<Record<PageName, string>> {
  const links: Partial<Record<PageName, string>> = {}
  if (!pages) return links
  for (const name of Object.keys(api) as PageName[]) links[name] = `${prefix}${pages.paths[name]}`
  return links
}

/**
 * What {@link registerPages} needs from the plugin.
 *
 * @example
 * ```ts
 * const setup: PagesSetup = { pages: resolvePages(true)!, api: { verify: '/verify' }, appName: 'Acme', https: true, onRoute: () => {} }
 * ```
 */
export interface PagesSetup {
  pages: ResolvedPages
  /** The API route each page posts to, as registered (without the plugin's prefix); absent: no page. */
  api: Partial<Record<PageName, string>>
  /** Name of the application, when `pages.appName` is not given. */
  appName: string
  /** Whether the application is served over HTTPS (HSTS is sent only then). */
  https: boolean
  /**
   * The first backend's login route and the field of its identifier, and the passkey login route when
   * passkeys are on; absent: no login page.
   */
  login?: { api: string; identifier: string; passkey?: string | undefined } | undefined
  /** The identity providers the login page offers ("Sign in with ..."); none by default. */
  providers?: readonly ProviderButton[] | undefined
  /** Return targets the login page accepts in `?redirectTo=` (the `oauth.redirectAllowList`). */
  redirectAllowList?: readonly string[] | undefined
  /**
   * Called with each route the pages add, before it is registered: the plugin records it among its paths
   * and gives it the log serializers that redact tokens (an old link may still carry `?token=`).
   */
  onRoute: (route: RouteOptions) => void
}

/**
 * Registers the pages (`GET` each page path whose API route exists) and their script, in an encapsulated
 * context behind their own security headers. Routes are hidden from the OpenAPI document.
 *
 * @example
 * ```ts
 * const pages = resolvePages(options.pages)
 * if (pages) registerPages(fastify, { pages, api: { verify: '/verify' }, appName: 'Acme', https: true, onRoute: () => {} })
 * ```
 */
export function registerPages(fastify: FastifyInstance, setup: PagesSetup): void {
  const prefix = fastify.prefix
  const { pages } = setup
  const app = pages.appName ?? setup.appName
  fastify.register((scope, _opts, done) => {
    scope.addHook('onRoute', (route) => setup.onRoute(route))
    pageSecurityHeaders(scope, { https: setup.https, directives: CSP_DIRECTIVES })
    const hidden = { schema: { hide: true } }
    scope.get(pages.scriptPath, hidden, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(SCRIPT + LOGIN_SCRIPT),
    )
    if (pages.login && setup.login) {
      const page = `${prefix}${pages.login.path}`
      const content = {
        app,
        api: relativeReference(page, `${prefix}${setup.login.api}`),
        script: relativeReference(page, `${prefix}${pages.scriptPath}`),
        identifier: setup.login.identifier,
        style: STYLE,
        passkeyLogin:
          setup.login.passkey === undefined
            ? undefined
            : relativeReference(page, `${prefix}${setup.login.passkey}`),
      }
      const configuredNext = pages.login.next === undefined ? undefined : `${prefix}${pages.login.next}`
      const allowList = setup.redirectAllowList ?? []
      const buttons = setup.providers ?? []
      scope.get(pages.login.path, hidden, async (request, reply: FastifyReply) => {
        // `?redirectTo=` is followed only when it is one of the allowed targets: never an open redirect.
        const asked = (request.query as Record<string, unknown> | undefined)?.redirectTo
        const chosen = typeof asked === 'string' && allowList.includes(asked) ? asked : undefined
        const next = chosen ?? configuredNext ?? allowList[0]
        const html = renderLoginPage({
          ...content,
          next,
          providers:
            buttons.length > 0 ? { buttons, prefix, redirectTo: next ?? allowList[0] ?? '/' } : undefined,
        })
        return reply.type('text/html; charset=utf-8').send(html)
      })
    }
    for (const name of Object.keys(DEFAULT_PAGE_PATHS) as PageName[]) {
      const api = setup.api[name]
      if (api === undefined) continue
      const page = `${prefix}${pages.paths[name]}`
      const html = renderPage(
        CONTENT[name],
        app,
        relativeReference(page, `${prefix}${api}`),
        relativeReference(page, `${prefix}${pages.scriptPath}`),
      )
      scope.get(pages.paths[name], hidden, async (_request, reply: FastifyReply) =>
        reply.type('text/html; charset=utf-8').send(html),
      )
    }
    done()
  })
}
