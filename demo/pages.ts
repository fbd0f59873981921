/**
 * The pages the demo's mailed links open: `GET /verify#token=...`, `GET /reset-password#token=...`, and the
 * two links of an email change, `GET /confirm-email#token=...` and `GET /cancel-email#token=...`.
 * The token is in the fragment, which the browser never sends: the server and its logs never see it.
 * The plugin serves only the JSON API (`POST /verify`, `POST /reset-password`); an application brings its
 * own pages, and these are the smallest that work in a browser.
 *
 * The pages never act on load: mail scanners and link previews fetch (and sometimes run) links, so the
 * token is redeemed only when the user presses the button.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'

// Reads the token from the address's fragment (or, for a link mailed before links used fragments, its
// query), removes it from the address bar and the history, and posts it (with the new password, on the
// reset page) as JSON to the form's action.
const SCRIPT = `
const token =
  new URLSearchParams(location.hash.slice(1)).get('token') ??
  new URLSearchParams(location.search).get('token') ??
  ''
history.replaceState(null, '', location.pathname)
const form = document.querySelector('form')
const output = document.querySelector('output')
if (!token) {
  form.hidden = true
  output.textContent = 'This link has no token: open the link from the mail as it is.'
}
form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const body = { token }
  const password = form.elements.namedItem('password')
  if (password) body.password = password.value
  const response = await fetch(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const answer = response.status === 204 ? null : await response.json()
  if (response.ok) form.hidden = true
  output.textContent = response.ok ? form.dataset.done : (answer?.detail ?? 'Something went wrong.')
})
`

// The CSP allows this one script by its hash, and nothing else: no other script, no third-party origin.
const CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

function page(title: string, form: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}input,button{font:inherit}</style>
</head>
<body>
<h1>${title}</h1>
${form}
<p><output></output></p>
<p><a href="/docs">API docs</a></p>
<script>${SCRIPT}</script>
</body>
</html>
`
}

// Verifying asks for the account's password: a link alone must never make a password the clicker did not
// choose usable (someone else may have registered with this address).
const VERIFY_PAGE = page(
  'Verify your email address',
  `<form action="/verify" method="post" data-done="Your email address is verified. You can log in now.">
<p><label>Your password <input name="password" type="password" autocomplete="current-password" maxlength="4096" required></label></p>
<button>Verify my email address</button>
</form>
<p>Did not create this account, or forgot the password? <a href="/docs">Ask for a password reset</a> (<code>POST /forgot-password</code>): setting your own password verifies the address too.</p>`,
)

const CONFIRM_EMAIL_PAGE = page(
  'Confirm your new email address',
  `<form action="/users/me/email/confirm" method="post" data-done="Your email address is changed. Log in with the new one.">
<p><label>Your password <input name="password" type="password" autocomplete="current-password" maxlength="4096" required></label></p>
<button>Confirm my new email address</button>
</form>`,
)

const CANCEL_EMAIL_PAGE = page(
  'Cancel the email change',
  `<form action="/users/me/email/cancel" method="post" data-done="The change is cancelled and every session has ended. Choose a new password if you did not ask for the change.">
<button>Cancel the change</button>
</form>`,
)

const RESET_PAGE = page(
  'Choose a new password',
  `<form action="/reset-password" method="post" data-done="Your password is changed. Log in with the new one.">
<p><label>New password <input name="password" type="password" autocomplete="new-password" minlength="8" maxlength="128" required></label></p>
<button>Set the new password</button>
</form>`,
)

function sendPage(reply: FastifyReply, html: string): FastifyReply {
  // The token is in the address: keep it out of Referer headers and caches.
  return reply
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .type('text/html; charset=utf-8')
    .send(html)
}

/**
 * Serves `GET /` (a redirect to the docs), `GET /verify`, `GET /reset-password`, `GET /confirm-email` and
 * `GET /cancel-email`.
 *
 * @example
 * ```ts
 * await app.register(fastifyUsers, options)
 * demoPages(app)
 * ```
 */
export function demoPages(app: FastifyInstance): void {
  const hidden = { schema: { hide: true } }
  app.get('/', hidden, async (_request, reply) => reply.redirect('/docs'))
  app.get('/verify', hidden, async (_request, reply) => sendPage(reply, VERIFY_PAGE))
  app.get('/reset-password', hidden, async (_request, reply) => sendPage(reply, RESET_PAGE))
  app.get('/confirm-email', hidden, async (_request, reply) => sendPage(reply, CONFIRM_EMAIL_PAGE))
  app.get('/cancel-email', hidden, async (_request, reply) => sendPage(reply, CANCEL_EMAIL_PAGE))
}
