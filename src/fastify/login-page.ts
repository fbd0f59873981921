/**
 * The plugin's login page (`pages: { login: true }`): the password form, then, when the login answers 202,
 * the second step on the same page: a code of the authenticator app, a recovery code, or a passkey. The
 * script posts JSON to the first backend's login and to its second step, like any client; the page itself
 * holds no secret and never submits a form on its own. With passkeys on, a "Log in with a passkey" button
 * (a discoverable credential, no password); below the form, one "Sign in with <Provider>" link per
 * configured identity provider.
 *
 * @module
 */

/**
 * The login page's script, appended to the pages' script file (one file, one CSP source); it does nothing
 * on another page.
 *
 * @example
 * ```ts
 * reply.type('text/javascript; charset=utf-8').send(SCRIPT + LOGIN_SCRIPT)
 * ```
 */
export const LOGIN_SCRIPT = `
;(() => {
  const form = document.querySelector('form[data-login]')
  const second = document.querySelector('form[data-second]')
  const output = document.querySelector('output')
  if (!form || !second || !output) return
  const api = form.dataset.login
  const identifier = form.dataset.identifier
  const code = second.elements.namedItem('code')
  const label = second.querySelector('[data-label]')
  const submit = second.querySelector('button[type=submit]')
  const recoveryButton = second.querySelector('[data-recovery]')
  const passkeyButton = second.querySelector('[data-passkey]')
  let challenge = null
  const webauthn =
    typeof PublicKeyCredential !== 'undefined' &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function'
  let recovery = false
  form.hidden = false
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: response.status, data: await response.json().catch(() => null) }
  }
  const restart = () => {
    challenge = null
    second.hidden = true
    form.hidden = false
    form.elements.namedItem('password').value = ''
  }
  const fail = (result) => {
    output.textContent = (result.data && result.data.detail) || 'That did not work (' + result.status + '). Try again.'
    // A used, expired or outdated challenge cannot be answered any more: back to the password.
    if (result.data && result.data.code === 'ERR_MFA_CHALLENGE') restart()
  }
  const done = () => {
    form.hidden = true
    second.hidden = true
    output.textContent = form.dataset.done
    if (form.dataset.next) location.assign(form.dataset.next)
  }
  const busy = async (button, action) => {
    button.disabled = true
    output.textContent = ''
    try {
      await action()
    } catch {
      output.textContent = 'The server could not be reached. Try again.'
    } finally {
      button.disabled = false
    }
  }
  const useRecovery = (on) => {
    recovery = on
    label.textContent = on ? 'Recovery code' : 'Code from your authenticator app'
    code.inputMode = on ? 'text' : 'numeric'
    code.autocomplete = on ? 'off' : 'one-time-code'
    recoveryButton.textContent = on ? 'Use a code from the app' : 'Use a recovery code'
    code.value = ''
  }
  const showSecond = (methods) => {
    form.hidden = true
    second.hidden = false
    const totp = methods.includes('totp')
    code.closest('label').hidden = !totp
    code.required = totp
    submit.hidden = !totp
    recoveryButton.hidden = !methods.includes('recovery')
    passkeyButton.hidden = !(methods.includes('passkey') && webauthn)
    useRecovery(false)
    if (totp) code.focus()
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(form.querySelector('button'), async () => {
      const result = await post(api, {
        [identifier]: form.elements.namedItem('identifier').value,
        password: form.elements.namedItem('password').value,
      })
      if (result.status === 202 && result.data && result.data.challenge) {
        challenge = result.data.challenge
        showSecond(Array.isArray(result.data.methods) ? result.data.methods : ['totp', 'recovery'])
      } else if (result.status === 200) done()
      else fail(result)
    })
  })
  recoveryButton.addEventListener('click', () => useRecovery(!recovery))
  second.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(submit, async () => {
      const value = code.value.trim()
      const result = await post(api + '/2fa', recovery ? { challenge, recoveryCode: value } : { challenge, code: value })
      if (result.status === 200) done()
      else fail(result)
    })
  })
  // One assertion: options fetched, the authenticator asked, the assertion posted where and as the
  // answer function says; the declined text is shown when the user or the browser does not use it.
  const usePasskey = async (optionsUrl, optionsBody, answer, declined) => {
    const options = await post(optionsUrl, optionsBody)
    if (options.status !== 200) return fail(options)
    let credential
    try {
      credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.data),
      })
    } catch {
      output.textContent = declined
      return
    }
    const [url, body] = answer(credential)
    const result = await post(url, body)
    if (result.status === 200) done()
    else fail(result)
  }
  passkeyButton.addEventListener('click', () =>
    busy(passkeyButton, () =>
      usePasskey(
        api + '/2fa/passkey/options',
        { challenge },
        (credential) => [api + '/2fa', { challenge, passkey: credential.toJSON() }],
        'The passkey was not used. Try again, or use a code.',
      ),
    ),
  )
  // A passkey alone (a discoverable credential): no identifier, no password, no second step.
  const passkeyLogin = form.querySelector('[data-passkey-login]')
  if (passkeyLogin && webauthn) {
    passkeyLogin.hidden = false
    passkeyLogin.addEventListener('click', () =>
      busy(passkeyLogin, () => {
        const url = passkeyLogin.dataset.passkeyLogin
        return usePasskey(
          url + '/options',
          {},
          (credential) => [url, credential.toJSON()],
          'The passkey was not used. Try again, or use your password.',
        )
      }),
    )
  }
  // A sign-in through an identity provider that still needs the second step lands here with its
  // challenge in the fragment; it is taken out of the address bar and the history at once.
  const handed = new URLSearchParams(location.hash.slice(1))
  if (handed.get('mfaChallenge')) {
    challenge = handed.get('mfaChallenge')
    history.replaceState(null, '', location.pathname + location.search)
    showSecond((handed.get('methods') || 'totp,recovery').split(','))
  }
})()
`

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
 * What {@link renderLoginPage} fills in.
 *
 * @example
 * ```ts
 * const page: LoginPageContent = { app: 'Acme', api: './login', script: './fastify-users-pages.js', identifier: 'email', style: 'body{}' }
 * ```
 */
export interface LoginPageContent {
  /** The application's name, in the title. */
  app: string
  /** The first backend's login route, as a reference relative to the page. */
  api: string
  /** The pages' script, as a reference relative to the page. */
  script: string
  /** The field the login takes the identifier in (`email` by default). */
  identifier: string
  /** The pages' stylesheet (allowed by its hash). */
  style: string
  /** Where the browser goes once logged in; absent: the page says so and stays. */
  next?: string | undefined
  /** The passkey login route (`/login/passkey`) relative to the page, when passkeys are on. */
  passkeyLogin?: string | undefined
  /** The identity providers to offer, and the plugin's prefix their routes sit under. */
  providers?: { buttons: readonly ProviderButton[]; prefix: string; redirectTo: string } | undefined
}

/**
 * The login page's HTML: a password form, and a hidden second-step form the script shows after a 202.
 *
 * @example
 * ```ts
 * const html = renderLoginPage({ app: 'Acme', api: './login', script: './fastify-users-pages.js', identifier: 'email', style })
 * ```
 */
export function renderLoginPage(content: LoginPageContent): string {
  const label = content.identifier === 'email' ? 'Email address' : content.identifier
  const autocomplete = content.identifier === 'email' ? 'email' : 'username'
  const next = content.next === undefined ? '' : ` data-next="${escapeHtml(content.next)}"`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · ${escapeHtml(content.app)}</title>
<style>${content.style}</style>
<script src="${escapeHtml(content.script)}" defer></script>
</head>
<body>
<h1>Log in</h1>
<noscript><p>This page needs JavaScript. Turn JavaScript on for this site and reload it.</p></noscript>
<form data-login="${escapeHtml(content.api)}" data-identifier="${escapeHtml(content.identifier)}" data-done="You are logged in."${next} hidden>
<label>${escapeHtml(label)} <input name="identifier" autocomplete="${autocomplete}" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
${content.passkeyLogin === undefined ? '' : `<button type="button" data-passkey-login="${escapeHtml(content.passkeyLogin)}" hidden>Log in with a passkey</button>`}
</form>
<form data-second hidden>
<p>Your account asks for a second step.</p>
<label><span data-label>Code from your authenticator app</span> <input name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="64"></label>
<button type="submit">Continue</button>
<button type="button" data-recovery>Use a recovery code</button>
<button type="button" data-passkey hidden>Use a passkey</button>
</form>
<output aria-live="polite"></output>
${content.providers ? renderProviderButtons(content.providers.buttons, content.providers.prefix, content.providers.redirectTo) : ''}
</body>
</html>
`
}

/**
 * The route the login page posts to (the first backend's login) and its identifier field, or `undefined`
 * when the page is off.
 *
 * @throws TypeError when the page is on but the auth routes are off, or the first backend issues Bearer
 *   tokens (a page cannot keep one safely: the first backend must be a cookie backend).
 * @example
 * ```ts
 * loginPageApi(resolvePages({ login: true }), {}, backends, 'email') // { api: '/login', identifier: 'email' }
 * ```
 */
export function loginPageApi(
  pages: { login: unknown } | null,
  routes: { auth?: false | { loginPath?: string } } | undefined,
  backends: readonly { cookieName: string | null }[],
  identifier: string,
): { api: string; identifier: string } | undefined {
  if (!pages?.login) return undefined
  const auth = routes?.auth
  if (auth === false) {
    throw new TypeError('fastify-users: option `pages.login` needs the auth routes (`routes.auth` is off)')
  }
  if (!backends[0] || backends[0].cookieName === null) {
    throw new TypeError(
      'fastify-users: option `pages.login` needs a cookie backend first (`session` or `jwt-cookie`): a page cannot keep a Bearer token safely',
    )
  }
  return { api: auth?.loginPath ?? '/login', identifier }
}
