/**
 * `fastify-users`: the framework-agnostic core. The user service, its errors, password hashing and
 * tokens. The SQL persistence is in `fastify-users/kysely`, the Fastify plugin in `fastify-users/fastify`,
 * the mailers in `fastify-users/mail`.
 *
 * @example
 * ```ts
 * import { BaseUserService } from 'fastify-users'
 * import { connectDatabase, createKyselyRepositories, migrateToLatest } from 'fastify-users/kysely'
 *
 * const { db } = await connectDatabase('sqlite:data/app.db')
 * await migrateToLatest(db)
 * const users = new BaseUserService({ secret: process.env.USERS_SECRET!, ...createKyselyRepositories(db) })
 * ```
 *
 * @module
 */

export type { ExclusiveLock } from './core/admin-guard.js'
export type { UserFieldValue, UserWith } from './core/custom-field-types.js'
export { canonicalEmail, canonicalRoleName, canonicalUsername, normalizeEmail } from './core/identifiers.js'
export type { MailCapStore } from './core/mail-cap.js'
export {
  hasUsablePassword,
  keepsAWayToLogIn,
  type LinkedAccount,
  type OAuthAccountRepository,
  type OAuthHooks,
  type OAuthIdentity,
  type RemainingLogins,
  UNUSABLE_PASSWORD_HASH,
  type UnlinkOutcome,
} from './core/oauth-accounts.js'
export type { ProviderTokens } from './core/oauth-tokens.js'
export { passkeyNotices, passwordStepUp } from './core/passkey-defaults.js'
export type {
  PasskeyChallengePurpose,
  PasskeyChallengeRecord,
  PasskeyRecord,
  PasskeyRepository,
} from './core/passkey-repository.js'
export { PasskeySecondFactor } from './core/passkey-second-factor.js'
export {
  PASSKEY_NAME_MAX_LENGTH,
  type PasskeyActionProof,
  type PasskeyHost,
  type PasskeyStepUp,
  Passkeys,
  type PasskeysOptions,
  type PublicPasskey,
  passkeyName,
} from './core/passkeys.js'
export { type PublicUser, SECRET_USER_FIELDS, withoutSecrets } from './core/public-user.js'
export {
  RefreshFamilySource,
  type RefreshFamilySourceOptions,
  refreshFamilyDenyKey,
  refreshFamilyHandle,
} from './core/refresh-families.js'
export type { FastifyUsersRegister, RegisteredService, RegisteredUser } from './core/register.js'
export type {
  LoginAttemptStore,
  LoginFailures,
  LoginReservation,
  NewUserRecord,
  RoleRepository,
  SessionRecord,
  SessionRepository,
  TokenDenylist,
  UserExpectation,
  UserListQuery,
  UserOrderField,
  UserPage,
  UserRecordPatch,
  UserRepository,
  UserUpdateOptions,
} from './core/repositories.js'
export type { SecondFactor, SecondFactorContext } from './core/second-factor.js'
export { SecretBox } from './core/secret-box.js'
export { type ChangeProof, SensitiveChanges } from './core/sensitive-changes.js'
export {
  type CurrentCredential,
  currentSessionHandle,
  describeUserAgent,
  SessionAdmin,
  type SessionAdminOptions,
  type SessionKind,
  type SessionListItem,
  type SessionSource,
  StoredSessionSource,
  sessionHandle,
} from './core/session-admin.js'
export {
  type ProofKind,
  StepUp,
  type StepUpOptions,
  type StepUpProof,
  type StepUpStore,
} from './core/step-up.js'
export { type TotpEnrolment, TotpFactor, type TotpFactorOptions } from './core/totp.js'
export type { TotpRecord, TotpRepository } from './core/totp-repository.js'
export {
  type LoginChallengeOptions,
  mfaChallengePurpose,
  type OpenChallenge,
  type SecondFactorChange,
  type SecondFactorInput,
  TwoFactor,
  type TwoFactorOptions,
} from './core/two-factor.js'
export type { BaseUser, Id, IdType, NewUser, Role, UserFieldSchema, UserPatch } from './core/user.js'
export {
  type AddUserOptions,
  type AuthenticationData,
  BaseUserService,
  emailFingerprint,
  type LoginThrottleOptions,
  loginAttemptKey,
  type PurgeResult,
  passwordFingerprint,
  type TokenLifetimes,
  type UserServiceOptions,
} from './core/user-service.js'
export {
  InvalidOtpError,
  LastLoginMethodError,
  MfaChallengeError,
  OAuthAccountInUseError,
  OAuthCallbackError,
  OAuthLinkRequiredError,
  StepUpRequiredError,
} from './kernel/account-errors.js'
export { type Clock, systemClock } from './kernel/clock.js'
// Two-factor authentication and step-up.
export {
  AlreadyVerifiedError,
  type AnyFastifyUsersError,
  BadUrlError,
  BusyError,
  ConflictError,
  CrossOriginError,
  DatabaseUnavailableError,
  FastifyUsersError,
  type FastifyUsersErrorCode,
  ForbiddenError,
  InactiveUserError,
  InvalidCredentialsError,
  InvalidTokenError,
  LastAdminError,
  MethodNotAllowedError,
  NotFoundError,
  NotVerifiedError,
  PasswordPolicyError,
  type PasswordPolicyReason,
  PasswordRequiredError,
  RateLimitedError,
  RoleAlreadyAssignedError,
  RoleExistsError,
  RoleNotAssignedError,
  RouteNotFoundError,
  SelfLockoutError,
  ShuttingDownError,
  TooManyAttemptsError,
  UnauthenticatedError,
  UrlTooLongError,
  UserExistsError,
  ValidationError,
  WrongPasswordError,
} from './kernel/errors.js'

export { type Logger, silentLogger } from './kernel/logger.js'
export type { Mailer, MailMessage } from './mail/mailer.js'
export { composeUserMail, type MailLinkOptions, type UserMailKind } from './mail/messages.js'
export {
  Argon2idHasher,
  BcryptHasher,
  normalizePassword,
  type PasswordHasher,
  PasswordManager,
  type PasswordManagerOptions,
  PasswordPolicy,
  type PasswordPolicyOptions,
  ScryptHasher,
} from './password/index.js'
export {
  normaliseSecrets,
  type TokenClaims,
  TokenCodec,
  type TokenCodecOptions,
  type TokenPurpose,
  tokenPurposes,
} from './tokens/token-codec.js'
