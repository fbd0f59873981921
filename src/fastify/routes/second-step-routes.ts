/**
 * The login's second step, for each backend beside its login: `POST <login>/2fa` (a TOTP code, a recovery
 * code or a passkey assertion) and `POST <login>/2fa/passkey/options`. A challenge carries, signed, the
 * name of the backend whose login gave it; only that backend's second step takes it, and it issues that
 * backend's credential through the same function as its login.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { AuthBackend } from '../../auth/auth-backend.js'
import { PasskeySecondFactor } from '../../core/passkey-second-factor.js'
import type { BaseUser } from '../../core/user.js'
import { ValidationError } from '../../kernel/errors.js'
import { backendOperationId } from '../openapi-responses.js'
import type { RouteContext } from '../route-context.js'
import { Credential } from './passkey-schemas.js'
import { Code, issueCredential, RecoveryCode } from './two-factor-routes.js'

/**
 * The answer of a login when a second step is needed.
 *
 * @example
 * ```ts
 * // { "mfaRequired": true, "challenge": "eyJ...", "methods": ["totp", "recovery", "passkey"] }
 * ```
 */
export const MfaRequiredResponse = Type.Object(
  {
    mfaRequired: Type.Literal(true),
    challenge: Type.String({
      description:
        "Send it to this backend's second step (`POST /login/2fa`, or `/auth/<name>/login/2fa`); single-use, short-lived.",
    }),
    methods: Type.Array(Type.String(), {
      description:
        'What the second step accepts for this user: `totp` (a `code`), `recovery` (a `recoveryCode`), `passkey` (a `passkey` assertion, after `POST .../2fa/passkey/options`).',
    }),
  },
  { additionalProperties: false },
)

const ChallengeField = Type.String({ minLength: 1, maxLength: 4096 })

/**
 * Registers the second step of one backend's login at `${loginPath}/2fa` (only called with two-factor on).
 *
 * @example
 * ```ts
 * secondStepRoutes(app, context, backend, '/auth/jwt/login', true, ['auth'])
 * ```
 */
export function secondStepRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  backend: AuthBackend,
  loginPath: string,
  named: boolean,
  tags: string[],
): void {
  const twoFactor = context.twoFactor
  if (!twoFactor) return
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const issuesToken = backend.cookieName === null
  const { schemas } = context
  const via = named ? ` This is the \`${backend.name}\` backend's second step.` : ''
  const passkeyFactor = twoFactor.factors.find(
    (f): f is PasskeySecondFactor<BaseUser> => f instanceof PasskeySecondFactor,
  )

  app.post(
    `${loginPath}/2fa`,
    {
      config: { rateLimitGroup: 'login' },
      schema: {
        tags,
        operationId: named ? backendOperationId('loginSecondFactor', backend.name) : 'loginSecondFactor',
        summary: named ? `Log in: the second step (${backend.name})` : 'Log in: the second step',
        description: `After this backend's login answered 202 \`{ mfaRequired: true, challenge, methods }\`: the challenge with exactly one of a \`code\` of the authenticator app, a \`recoveryCode\`, or a \`passkey\` assertion (for options from \`POST ${loginPath}/2fa/passkey/options\`). Issues what this backend's login issues (a session cookie; a Bearer token with its refresh token; a JWT cookie with its refresh cookie).${via} A wrong or reused code or assertion answers 401 \`ERR_INVALID_CREDENTIALS\`; an expired, used or outdated challenge, or one another backend's login gave, 401 \`ERR_MFA_CHALLENGE\` (log in again); past 5 wrong answers for the user or the challenge, 429 with \`Retry-After\`.`,
        body: Type.Object(
          {
            challenge: ChallengeField,
            code: Type.Optional(Code),
            recoveryCode: Type.Optional(RecoveryCode),
            passkey: Type.Optional(Credential),
          },
          { additionalProperties: false },
        ),
        response: { 200: issuesToken ? schemas.LoginJwtResponse : schemas.UserRef },
      },
    },
    async (request, reply) => {
      const { challenge, ...input } = request.body
      const given = [input.code, input.recoveryCode, input.passkey].filter((v) => v !== undefined).length
      if (given !== 1) {
        throw new ValidationError('code', 'send exactly one of `code`, `recoveryCode`, `passkey`')
      }
      const { user, kind } = await twoFactor.completeLogin(challenge, input, { backend: backend.name })
      return issueCredential(context, backend, user, kind, request, reply)
    },
  )

  if (!passkeyFactor) return
  app.post(
    `${loginPath}/2fa/passkey/options`,
    {
      config: { rateLimitGroup: 'login' },
      schema: {
        tags,
        operationId: named
          ? backendOperationId('loginSecondFactorPasskeyOptions', backend.name)
          : 'loginSecondFactorPasskeyOptions',
        summary: named
          ? `Log in: passkey options for the second step (${backend.name})`
          : 'Log in: passkey options for the second step',
        description: `For a challenge of this backend's login whose \`methods\` include \`passkey\`: the options for \`navigator.credentials.get()\`, listing the user's passkeys, user verification preferred, with a fresh challenge bound to the user and to this login challenge, single-use, valid until the login challenge or the passkey challenge lifetime ends. Send the assertion to \`POST ${loginPath}/2fa\` as \`passkey\`. An expired, used or outdated challenge, or another backend's, answers 401 \`ERR_MFA_CHALLENGE\`; a user without a passkey, 404.`,
        body: Type.Object({ challenge: ChallengeField }, { additionalProperties: false }),
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'WebAuthn options, as JSON.' }),
        },
      },
    },
    async (request) => {
      const opened = await twoFactor.openLogin(request.body.challenge, { backend: backend.name })
      return passkeyFactor.options(opened.user, opened.challengeId, opened.expiresAt)
    },
  )
}
