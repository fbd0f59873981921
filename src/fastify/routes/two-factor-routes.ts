/**
 * Two-factor authentication over HTTP: reauthentication (`POST /users/me/reauthenticate`) and the TOTP
 * factor under `/users/me/2fa`, registered when `routes.twoFactor` is on; and the one function every login
 * issues its credential through. The login's second step is in second-step-routes.ts.
 *
 * @module
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AuthBackend, IssuedCredential } from '../../auth/auth-backend.js'
import { JwtBackend } from '../../auth/jwt-backend.js'
import { PasskeySecondFactor } from '../../core/passkey-second-factor.js'
import { reauthenticationChallengeId } from '../../core/second-factor.js'
import type { ProofKind } from '../../core/step-up.js'
import type { TwoFactor } from '../../core/two-factor.js'
import type { BaseUser } from '../../core/user.js'
import { UnauthenticatedError, ValidationError } from '../../kernel/errors.js'
import { requireUser } from '../guards.js'
import { currentUser, noContent, type RouteContext } from '../route-context.js'
import type { TwoFactorHandlerConfig } from '../two-factor-setup.js'
import { Credential } from './passkey-schemas.js'
import { refreshPathOf, setRefreshCookie } from './refresh-routes.js'

/** A TOTP code in a request body. @example `'123456'` */
export const Code = Type.String({
  pattern: '^[0-9]{6}$',
  description: 'The 6-digit code of the authenticator app.',
})
/** A recovery code in a request body. @example `'abcde-fghij'` */
export const RecoveryCode = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'One of the recovery codes.',
})
const Password = Type.String({ minLength: 1, maxLength: 4096 })
const RecoveryCodes = Type.Object(
  { recoveryCodes: Type.Array(Type.String(), { description: 'Shown once: each works once.' }) },
  { additionalProperties: false },
)

/**
 * The second step a first factor (a password, a provider's sign-in) leads to: with two-factor on and a
 * second factor on the account, a challenge bound to `backend` (only its second step takes it) and the
 * methods it accepts; else `null`, and the caller issues the credential.
 *
 * @example
 * ```ts
 * const step = await secondStepOf(context, backend, user)
 * if (step) return reply.code(202).send({ mfaRequired: true, ...step })
 * ```
 */
export async function secondStepOf(
  context: RouteContext,
  backend: AuthBackend,
  user: BaseUser,
): Promise<{ challenge: string; methods: string[] } | null> {
  const twoFactor = context.twoFactor
  const challenge = twoFactor ? await twoFactor.beginLogin(user, { backend: backend.name }) : null
  return twoFactor && challenge ? { challenge, methods: await twoFactor.methods(user) } : null
}

/**
 * Issues a backend's credential after a password, a second factor or a passkey: every login goes through
 * here, so each issues exactly what its backend issues (a session cookie; a JWT in the body with its
 * refresh token; a JWT cookie plus the refresh cookie scoped to the backend's refresh path), and records
 * the proof, so the new credential may do sensitive actions within the step-up window.
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
): Promise<Record<string, unknown>> {
  const { auth, twoFactor } = context
  const issued = await backend.login(user, auth.credentials(request, backend))
  auth.applyCredential(reply, issued)
  if (backend instanceof JwtBackend && backend.refreshCookieName) {
    // The route's own scope carries the plugin's prefix, as the refresh route registered beside it does.
    const path = `${request.server.prefix}${refreshPathOf(auth.backends.indexOf(backend), backend)}`
    setRefreshCookie(reply, issued, backend.refreshCookieName, path, context.resolved.cookieSecure)
  }
  // Every login is a fresh proof for the step-up window, a provider's sign-in included: an account made
  // by a provider has no other way to enrol a factor or set an address.
  if (twoFactor) await recordProof(twoFactor, backend, issued, user, kind, request)
  request.log.info(
    { event: 'session_created', userId: user.id, backend: backend.name, via: kind },
    'logged in',
  )
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
): void {
  const twoFactor = context.twoFactor
  if (!twoFactor) return
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const { service, auth, security } = context
  const tags = config.tags ?? ['two-factor']
  const me = '/users/me'

  /** The full user (with the password hash) and the credential of an authenticated request. */
  const caller = async (request: FastifyRequest) => {
    const publicUser = await currentUser(context, request)
    const credential = auth.credential(request)
    if (!credential) throw new UnauthenticatedError()
    return { user: await service.getUser(publicUser.id), credentialId: credential.id }
  }

  app.post(
    `${me}/reauthenticate`,
    {
      preValidation: requireUser(),
      schema: {
        tags,
        operationId: 'reauthenticate',
        summary: 'Prove who you are again',
        description:
          'With the `password`, a TOTP `code`, a `recoveryCode`, or a `passkey` assertion (for options from `POST /users/me/reauthenticate/passkey/options`, when passkeys are on): records a fresh proof for this credential, which allows sensitive actions (turning a factor on or off, new recovery codes, a new password or address, adding or removing a passkey) for the step-up window (10 minutes by default). A login counts as such a proof. Wrong answers count like failed logins.',
        security,
        body: Type.Object(
          {
            password: Type.Optional(Password),
            code: Type.Optional(Code),
            recoveryCode: Type.Optional(RecoveryCode),
            passkey: Type.Optional(Credential),
          },
          { additionalProperties: false },
        ),
        response: { 204: { type: 'null', description: 'Proof recorded.' } },
      },
    },
    async (request, reply) => {
      const body = request.body
      const given = [body.password, body.code, body.recoveryCode, body.passkey].filter(
        (v) => v !== undefined,
      ).length
      if (given !== 1) {
        throw new ValidationError(
          'password',
          'send exactly one of `password`, `code`, `recoveryCode`, `passkey`',
        )
      }
      const { user, credentialId } = await caller(request)
      await twoFactor.reauthenticate(user, credentialId, body)
      return noContent(reply)
    },
  )

  const passkeyFactor = twoFactor.factors.find(
    (f): f is PasskeySecondFactor<BaseUser> => f instanceof PasskeySecondFactor,
  )
  if (passkeyFactor) {
    app.post(
      `${me}/reauthenticate/passkey/options`,
      {
        preValidation: requireUser(),
        schema: {
          tags,
          operationId: 'reauthenticatePasskeyOptions',
          summary: 'Passkey options to prove who you are again',
          description:
            "The options for `navigator.credentials.get()`: the user's passkeys, user verification preferred, with a fresh challenge bound to the user and to this very credential (session or token), single-use and short-lived. Send the assertion to `POST /users/me/reauthenticate` as `passkey`. A user without a passkey answers 404.",
          security,
          response: {
            200: Type.Object({}, { additionalProperties: true, description: 'WebAuthn options, as JSON.' }),
          },
        },
      },
      async (request) => {
        const { user, credentialId } = await caller(request)
        // No login challenge bounds it: the passkey challenge lifetime alone does.
        return passkeyFactor.options(
          user,
          reauthenticationChallengeId(credentialId),
          Number.POSITIVE_INFINITY,
        )
      },
    )
  }

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
