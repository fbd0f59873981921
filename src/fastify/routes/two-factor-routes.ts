/**
 * Two-factor authentication over HTTP: the login's second step (`POST /login/2fa`), reauthentication
 * (`POST /users/me/reauthenticate`), and the TOTP factor under `/users/me/2fa`. Registered when
 * `routes.twoFactor` is on; `POST /login` then answers `{ mfaRequired: true, challenge }` for a user with
 * a second factor.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AuthBackend, IssuedCredential } from '../../auth/auth-backend.js'
import type { ProofKind } from '../../core/step-up.js'
import type { TwoFactor } from '../../core/two-factor.js'
import type { BaseUser } from '../../core/user.js'
import { UnauthenticatedError, ValidationError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'
import type { TwoFactorHandlerConfig } from '../two-factor-setup.js'

const Code = Type.String({ pattern: '^[0-9]{6}$', description: 'The 6-digit code of the authenticator app.' })
const RecoveryCode = Type.String({ minLength: 1, maxLength: 64, description: 'One of the recovery codes.' })
const Password = Type.String({ minLength: 1, maxLength: 4096 })
const RecoveryCodes = Type.Object(
  { recoveryCodes: Type.Array(Type.String(), { description: 'Shown once: each works once.' }) },
  { additionalProperties: false },
)

/**
 * The answer of `POST /login` when a second step is needed.
 *
 * @example
 * ```ts
 * // { "mfaRequired": true, "challenge": "eyJ..." } -> POST /login/2fa { challenge, code }
 * ```
 */
export const MfaRequiredResponse = Type.Object(
  {
    mfaRequired: Type.Literal(true),
    challenge: Type.String({
      description: 'Send it to `POST /login/2fa` with a code; single-use, short-lived.',
    }),
  },
  { additionalProperties: false },
)

/**
 * After a password or a second factor: issues the backend's credential and records the proof for it, so
 * the new credential may do sensitive actions within the step-up window.
 *
 * @example
 * ```ts
 * const body = await issueCredential(context, backend, user, 'password', request, reply)
 * ```
 */
export async function issueCredential(
  context: RouteContext,
  backend: AuthBackend,
  user: BaseUser,
  kind: ProofKind,
  request: FastifyRequest,
  reply: FastifyReply,
  onIssued?: (issued: IssuedCredential) => void,
): Promise<Record<string, unknown>> {
  const { auth, twoFactor } = context
  const issued = await backend.login(user, auth.credentials(request, backend))
  auth.applyCredential(reply, issued)
  onIssued?.(issued)
  if (twoFactor) await recordProof(twoFactor, backend, issued, user, kind, request)
  request.log.info({ event: 'session_created', userId: user.id, backend: backend.name }, 'logged in')
  if (issued.accessToken) {
    return {
      ...user,
      accessToken: issued.accessToken,
      tokenType: 'Bearer',
      expiresIn: issued.expiresIn,
      ...(issued.refreshToken
        ? { refreshToken: issued.refreshToken, refreshExpiresIn: issued.refreshExpiresIn }
        : {}),
    }
  }
  return user as unknown as Record<string, unknown>
}

async function recordProof(
  twoFactor: TwoFactor<BaseUser>,
  backend: AuthBackend,
  issued: IssuedCredential,
  user: BaseUser,
  kind: ProofKind,
  request: FastifyRequest,
): Promise<void> {
  // The backend reads its own new credential back: that gives the id (session hash or jti) proofs key on.
  const active = await backend.authenticate({
    cookie: issued.cookie?.value,
    authorization: issued.accessToken ? `Bearer ${issued.accessToken}` : undefined,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
  })
  if (active) await twoFactor.recordProof(active.credential.id, user, kind)
}

/** Registers the two-factor routes (only called when `routes.twoFactor` is on). */
export function twoFactorRoutes(
  instance: FastifyInstance,
  context: RouteContext,
  config: TwoFactorHandlerConfig,
  loginPath: string,
): void {
  const twoFactor = context.twoFactor
  if (!twoFactor) return
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, schemas, security } = context
  const tags = config.tags ?? ['two-factor']
  const backend = auth.backends[0]!
  const issuesToken = backend.cookieName === null
  const me = '/users/me'

  /** The full user (with the password hash) and the credential of an authenticated request. */
  const caller = async (request: FastifyRequest) => {
    const publicUser = await currentUser(context, request)
    const credential = auth.credential(request)
    if (!credential) throw new UnauthenticatedError()
    return { user: await service.getUser(publicUser.id), credentialId: credential.id }
  }

  app.post(
    `${loginPath}/2fa`,
    {
      config: { rateLimitGroup: 'login' },
      schema: {
        tags,
        operationId: 'loginSecondFactor',
        summary: 'Log in: the second step',
        description:
          "After `POST /login` answered `{ mfaRequired: true, challenge }`: the challenge with a `code` of the authenticator app, or a `recoveryCode`. Issues the first backend's credential like `POST /login`. A wrong or reused code answers 401 `ERR_INVALID_CREDENTIALS`; an expired, used or outdated challenge 401 `ERR_MFA_CHALLENGE` (log in again); past 5 wrong codes for the user or the challenge, 429 with `Retry-After`.",
        body: Type.Object(
          {
            challenge: Type.String({ minLength: 1, maxLength: 4096 }),
            code: Type.Optional(Code),
            recoveryCode: Type.Optional(RecoveryCode),
          },
          { additionalProperties: false },
        ),
        response: { 200: issuesToken ? schemas.LoginJwtResponse : schemas.UserRef },
      },
    },
    async (request, reply) => {
      const { challenge, ...input } = request.body
      if (input.code === undefined && input.recoveryCode === undefined) {
        throw new ValidationError('code', 'send `code` or `recoveryCode`')
      }
      const { user, kind } = await twoFactor.completeLogin(challenge, input)
      return issueCredential(context, backend, user, kind, request, reply)
    },
  )

  app.post(
    `${me}/reauthenticate`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'reauthenticate',
        summary: 'Prove who you are again',
        description:
          'With the `password`, a TOTP `code` or a `recoveryCode`: records a fresh proof for this credential, which allows sensitive actions (turning a factor off, new recovery codes) for the step-up window (10 minutes by default). A login counts as such a proof. Wrong answers count like failed logins.',
        security,
        body: Type.Object(
          {
            password: Type.Optional(Password),
            code: Type.Optional(Code),
            recoveryCode: Type.Optional(RecoveryCode),
          },
          { additionalProperties: false },
        ),
        response: { 204: { type: 'null', description: 'Proof recorded.' } },
      },
    },
    async (request, reply) => {
      const body = request.body
      const given = [body.password, body.code, body.recoveryCode].filter((v) => v !== undefined).length
      if (given !== 1)
        throw new ValidationError('password', 'send exactly one of `password`, `code`, `recoveryCode`')
      const { user, credentialId } = await caller(request)
      await twoFactor.reauthenticate(user, credentialId, body)
      return noContent(reply)
    },
  )

  app.get(
    `${me}/2fa`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'getTwoFactorStatus',
        summary: 'Two-factor status',
        security,
        response: {
          200: Type.Object(
            { totp: Type.Boolean(), recoveryCodesLeft: Type.Integer({ minimum: 0 }) },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { user } = await caller(request)
      return {
        totp: await twoFactor.totp.isEnabled(user),
        recoveryCodesLeft: await twoFactor.totp.recoveryCodesLeft(user),
      }
    },
  )

  app.post(
    `${me}/2fa/totp`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'enrolTotp',
        summary: 'Start a TOTP enrolment',
        description:
          'Needs a recent proof (a login or `POST /users/me/reauthenticate` within the step-up window). Answers a new secret, its `otpauth://` URI and a QR code (an SVG `data:` URL); nothing changes at login until `POST /users/me/2fa/totp/confirm` gets a first code. 409 when TOTP is already on.',
        security,
        response: {
          200: Type.Object(
            { secret: Type.String(), uri: Type.String(), qrCode: Type.String() },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { user, credentialId } = await caller(request)
      // Adding a factor also needs a fresh proof: a stolen session must not lock the owner out with it.
      await twoFactor.requireRecentProof(credentialId, user)
      return twoFactor.enrolTotp(user)
    },
  )

  app.post(
    `${me}/2fa/totp/confirm`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'confirmTotp',
        summary: 'Confirm the TOTP enrolment',
        description:
          'With a first code of the authenticator app: TOTP is on from now, and the 10 recovery codes are answered, once. A wrong code answers 403 `ERR_INVALID_OTP` and counts like a failed login; no pending enrolment, 409. The user is told by mail.',
        security,
        body: Type.Object({ code: Code }, { additionalProperties: false }),
        response: { 200: RecoveryCodes },
      },
    },
    async (request) => {
      const { user } = await caller(request)
      return { recoveryCodes: await twoFactor.confirmTotp(user, request.body.code) }
    },
  )

  app.delete(
    `${me}/2fa/totp`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'disableTotp',
        summary: 'Turn TOTP off',
        description:
          'Needs a recent proof on this credential (403 `ERR_STEP_UP_REQUIRED` otherwise: `POST /users/me/reauthenticate` first). Removes the secret and the recovery codes; the user is told by mail.',
        security,
        response: { 204: { type: 'null', description: 'TOTP is off.' } },
      },
    },
    async (request, reply) => {
      const { user, credentialId } = await caller(request)
      await twoFactor.disableTotp(user, credentialId)
      return noContent(reply)
    },
  )

  app.post(
    `${me}/2fa/recovery-codes`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'regenerateRecoveryCodes',
        summary: 'New recovery codes',
        description:
          'Needs a recent proof on this credential (403 `ERR_STEP_UP_REQUIRED` otherwise). The old codes stop working; the new ones are answered once; the user is told by mail.',
        security,
        response: { 200: RecoveryCodes },
      },
    },
    async (request) => {
      const { user, credentialId } = await caller(request)
      return { recoveryCodes: await twoFactor.regenerateRecoveryCodes(user, credentialId) }
    },
  )
}
