/**
 * The OAuth tests' servers on real sockets on 127.0.0.1: a free port for the application (which must know
 * its own address before it registers its callback with the provider), and a local OpenID Connect provider
 * (`oidc-provider`) with one confidential client, `app`, whose callback is the application's
 * `/oauth/idp/callback`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

/** The secret of the provider's `app` client. */
export const CLIENT_SECRET = 'a-client-secret-of-the-test-provider-0123456789'

/** The id of the one client the provider knows: the application under test. */
const CLIENT_ID = 'app'

/** Listens on a free port of 127.0.0.1 and answers it. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer()
  const port = await listen(server)
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A running test provider: its server (close it with {@link stopIdp}) and its issuer URL. */
export interface TestIdp {
  server: Server
  issuer: string
  /** How many token requests (code exchanges) the provider has received. */
  tokenRequests: number
}

/**
 * Starts the provider for an application at `appBase`. Its users are whoever logs in at its form: `claimsOf`
 * gives the claims (besides `sub`) of a login name.
 */
export async function startIdp(
  appBase: string,
  claimsOf: (id: string) => Record<string, unknown>,
): Promise<TestIdp> {
  const server = createServer()
  const issuer = `http://127.0.0.1:${await listen(server)}`
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${appBase}/oauth/idp/callback`, `${appBase}/oauth/idp-form/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    cookies: { keys: ['a-cookie-key-of-the-test-provider'] },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...claimsOf(id) }),
    }),
  })
  const idp: TestIdp = { server, issuer, tokenRequests: 0 }
  server.on('request', (request) => {
    if (request.method === 'POST' && request.url?.startsWith('/token')) idp.tokenRequests++
  })
  server.on('request', provider.callback())
  return idp
}

/**
 * The application's options for the provider `idp`: its issuer and the client it registered (plain HTTP
 * allowed, on 127.0.0.1). Spread it to add options, e.g. `{ ...clientOf(idp), responseMode: 'form_post' }`.
 */
export function clientOf(idp: TestIdp) {
  return { issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowInsecureRequests: true }
}

/** Closes the provider's server and its keep-alive connections. */
export async function stopIdp(idp: TestIdp | undefined): Promise<void> {
  if (!idp) return
  await new Promise((resolve) => idp.server.close(resolve))
  idp.server.closeAllConnections()
}
