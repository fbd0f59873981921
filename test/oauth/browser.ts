/**
 * A small HTTP client that behaves like a browser for redirects: a cookie jar (by name and path; cookies
 * ignore ports, as in browsers), `Origin` on POSTs, and form submission. Real sockets, real fetch.
 */
import assert from 'node:assert/strict'

export interface Answer {
  status: number
  url: string
  location: string | null
  body: string
}

interface Cookie {
  value: string
  path: string
}

export class Browser {
  readonly jar = new Map<string, Cookie>()

  cookieHeader(url: URL): string {
    return [...this.jar.entries()]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ')
  }

  #store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq)
      const value = pair!.slice(eq + 1)
      let path = '/'
      let expired = value === ''
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=')
        if (key!.toLowerCase() === 'path') path = val
        if (key!.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true
        if (key!.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) expired = true
      }
      if (expired) this.jar.delete(name)
      else this.jar.set(name, { value, path })
    }
  }

  /** One request, no redirect followed. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; json?: unknown; origin?: string } = {},
  ): Promise<Answer> {
    const target = new URL(url)
    const headers = new Headers()
    const cookie = this.cookieHeader(target)
    if (cookie) headers.set('cookie', cookie)
    let body: string | undefined
    const method = init.method ?? (init.form || init.json !== undefined ? 'POST' : 'GET')
    if (method !== 'GET') headers.set('origin', init.origin ?? target.origin)
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded')
      body = new URLSearchParams(init.form).toString()
    } else if (init.json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(init.json)
    }
    const response = await fetch(target, { method, headers, body, redirect: 'manual' })
    this.#store(response)
    const location = response.headers.get('location')
    return {
      status: response.status,
      url: target.href,
      location: location === null ? null : new URL(location, target).href,
      body: await response.text(),
    }
  }

  /** Follows redirects until an answer that is not one, or until `stop` says so. */
  async follow(url: string, stop: (url: URL) => boolean = () => false): Promise<Answer> {
    let answer = await this.request(url)
    for (let i = 0; i < 20 && answer.location && !stop(new URL(answer.location)); i++) {
      answer = await this.request(answer.location)
    }
    return answer
  }

  /** Submits the first form of a page, with `fields` over its hidden inputs (from `origin`: the page's). */
  async submit(page: Answer, fields: Record<string, string> = {}, origin?: string): Promise<Answer> {
    const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.body)
    if (!form) throw new Error(`no form at ${page.url}: ${page.body.slice(0, 300)}`)
    const values: Record<string, string> = {}
    for (const input of form[2]!.matchAll(/<input[^>]*>/gi)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1]
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? ''
      if (name) values[name] = value
    }
    const action = new URL(form[1]!, page.url).href
    return this.request(action, {
      form: { ...values, ...fields },
      origin: origin ?? new URL(page.url).origin,
    })
  }

  /**
   * Starts a sign-in at `start` (the app's authorize route), logs in at the test provider's form as
   * `login` (consent included) and answers the app's callback URL, not requested.
   */
  async toCallback(start: string, login: string, issuer: string, method = 'GET'): Promise<string> {
    const first = await this.request(start, { method })
    assert.ok(first.location?.startsWith(issuer), `${first.status} ${first.body}`)
    const isCallback = (url: URL) => url.pathname.endsWith('/callback')
    let page = await this.follow(String(first.location), isCallback)
    for (let i = 0; i < 3 && !page.location; i++) {
      const submitted = await this.submit(
        page,
        /name="login"/.test(page.body) ? { login, password: 'any' } : {},
      )
      page =
        submitted.location && !isCallback(new URL(submitted.location))
          ? await this.follow(submitted.location, isCallback)
          : submitted
    }
    assert.ok(page.location && isCallback(new URL(page.location)), `stuck at ${page.url}: ${page.status}`)
    return page.location
  }
}
