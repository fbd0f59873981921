/**
 * The table of the plugin's operations for the OpenAPI document: each `operationId`, what it answers on
 * success, and the error codes its own logic adds (`openapi-responses.ts` derives the rest from the route).
 *
 * @module
 */
import type { FastifyUsersErrorCode } from '../kernel/errors.js'

/**
 * The stable `operationId` of every operation of the plugin: camelCase, named after what the operation
 * does, independent of the path it is served at.
 *
 * @example
 * ```ts
 * const id: OperationId = 'getCurrentUser' // GET /users/me
 * ```
 */
export type OperationId =
  | 'register'
  | 'login'
  | 'logout'
  | 'refresh'
  | 'verify'
  | 'requestVerification'
  | 'forgotPassword'
  | 'resetPassword'
  | 'getCurrentUser'
  | 'updateCurrentUser'
  | 'changePassword'
  | 'confirmEmailChange'
  | 'cancelEmailChange'
  | 'listUsers'
  | 'getUser'
  | 'updateUser'
  | 'deleteUser'
  | 'listRoles'
  | 'createRole'
  | 'getRole'
  | 'updateRole'
  | 'deleteRole'
  | 'assignRole'
  | 'revokeRole'
  | 'listSessions'
  | 'endSession'
  | 'endOtherSessions'
  | 'logoutEverywhere'
  | 'listUserSessions'
  | 'endUserSessions'
  | 'endUserSession'
  | 'oauthAuthorize'
  | 'oauthCallback'
  | 'oauthFormPostCallback'
  | 'linkOAuthAccount'
  | 'listLinkedAccounts'
  | 'unlinkOAuthAccount'
  | 'loginSecondFactor'
  | 'loginSecondFactorPasskeyOptions'
  | 'reauthenticate'
  | 'reauthenticatePasskeyOptions'
  | 'getTwoFactorStatus'
  | 'enrolTotp'
  | 'confirmTotp'
  | 'disableTotp'
  | 'regenerateRecoveryCodes'
  | 'passkeyLoginOptions'
  | 'passkeyLogin'
  | 'passkeyRegistrationOptions'
  | 'createPasskey'
  | 'listPasskeys'
  | 'renamePasskey'
  | 'deletePasskey'

/** The credential cookie an operation sets (cookie backends only). */
export type CookieEffect = 'issues' | 'clears'

export interface OperationFacts {
  /** Description of each success status the operation answers. */
  success: Record<number, string>
  /** Codes its own logic can answer, beyond those derived from the route. */
  errors: readonly FastifyUsersErrorCode[]
  /** An admin operation: a credential without the required role answers 403. */
  admin?: true
  /** On the cookie backends, the success answer sets or clears the credential cookie. */
  cookie?: CookieEffect
  /** The body may be left out (its fields can come from the query string instead). */
  optionalBody?: true
}

const BUSY_AND_POLICY = ['ERR_BUSY', 'ERR_PASSWORD_POLICY'] as const
const THROTTLED = ['ERR_TOO_MANY_ATTEMPTS', 'ERR_BUSY'] as const
const ADMIN_LOCKOUT = ['ERR_SELF_LOCKOUT', 'ERR_LAST_ADMIN'] as const

/**
 * Every operation: what it answers on success, and the codes its own logic adds to those derived from the
 * route by `documentOperation` (openapi-responses.ts).
 *
 * @example
 * ```ts
 * OPERATIONS.createRole.errors // ['ERR_ROLE_EXISTS']: 409 beside the derived 400, 401, 403, 503
 * ```
 */
export const OPERATIONS: Readonly<Record<OperationId, OperationFacts>> = {
  register: {
    success: {
      201: 'The account, created and verified (verification is off).',
      202: 'The same answer whether the address is new or taken.',
    },
    errors: ['ERR_USER_EXISTS', ...BUSY_AND_POLICY],
  },
  login: {
    success: {
      200: 'Logged in: the user, and the credential of the backend.',
      202: "The user has a second factor: a challenge for this backend's `POST .../login/2fa` and the `methods` it accepts, no credential yet.",
    },
    errors: ['ERR_INVALID_CREDENTIALS', 'ERR_NOT_VERIFIED', 'ERR_INACTIVE', ...THROTTLED],
    cookie: 'issues',
  },
  logout: { success: { 204: 'Logged out.' }, errors: [], cookie: 'clears' },
  refresh: {
    success: { 200: 'A new access token and a new refresh token (in the body, or in their cookies).' },
    errors: ['ERR_UNAUTHENTICATED'],
    cookie: 'issues',
    optionalBody: true,
  },
  verify: {
    success: { 200: 'The user, now verified.' },
    errors: ['ERR_INVALID_TOKEN', 'ERR_PASSWORD_REQUIRED', ...THROTTLED],
    optionalBody: true,
  },
  requestVerification: {
    success: { 202: 'The same answer whatever the address.' },
    errors: [],
  },
  forgotPassword: { success: { 202: 'The same answer whatever the address.' }, errors: [] },
  resetPassword: {
    success: { 204: 'Password changed.' },
    errors: ['ERR_INVALID_TOKEN', ...BUSY_AND_POLICY],
  },
  getCurrentUser: { success: { 200: 'The current user.' }, errors: [] },
  updateCurrentUser: {
    success: { 200: 'The current user, updated.' },
    errors: [
      'ERR_WRONG_PASSWORD',
      'ERR_STEP_UP_REQUIRED',
      'ERR_INACTIVE',
      'ERR_USER_EXISTS',
      'ERR_CONFLICT',
      ...THROTTLED,
    ],
  },
  changePassword: {
    success: { 204: 'Password changed.' },
    errors: ['ERR_WRONG_PASSWORD', 'ERR_STEP_UP_REQUIRED', ...THROTTLED, 'ERR_PASSWORD_POLICY'],
    cookie: 'issues',
  },
  confirmEmailChange: {
    success: { 204: 'Email changed; log in again with the new address.' },
    errors: ['ERR_INVALID_TOKEN', 'ERR_PASSWORD_REQUIRED', 'ERR_INACTIVE', 'ERR_USER_EXISTS', ...THROTTLED],
  },
  cancelEmailChange: {
    success: { 204: 'Change cancelled; every session ended.' },
    errors: ['ERR_INVALID_TOKEN'],
  },
  listUsers: { success: { 200: 'A page of users.' }, errors: [], admin: true },
  getUser: { success: { 200: 'The user.' }, errors: ['ERR_NOT_FOUND'], admin: true },
  updateUser: {
    success: { 200: 'The user, updated.' },
    errors: ['ERR_NOT_FOUND', 'ERR_USER_EXISTS', 'ERR_CONFLICT', ...ADMIN_LOCKOUT, ...BUSY_AND_POLICY],
    admin: true,
  },
  deleteUser: {
    success: { 200: 'The deleted user.' },
    errors: ['ERR_NOT_FOUND', ...ADMIN_LOCKOUT],
    admin: true,
  },
  listRoles: { success: { 200: 'Every role.' }, errors: [], admin: true },
  createRole: { success: { 201: 'The new role.' }, errors: ['ERR_ROLE_EXISTS'], admin: true },
  getRole: { success: { 200: 'The role.' }, errors: ['ERR_NOT_FOUND'], admin: true },
  updateRole: {
    success: { 200: 'The role, updated.' },
    errors: ['ERR_NOT_FOUND', 'ERR_ROLE_EXISTS', ...ADMIN_LOCKOUT],
    admin: true,
  },
  deleteRole: {
    success: { 200: 'The deleted role.' },
    errors: ['ERR_NOT_FOUND', ...ADMIN_LOCKOUT],
    admin: true,
  },
  assignRole: {
    success: { 200: 'The user with their roles.' },
    errors: ['ERR_NOT_FOUND', 'ERR_ROLE_ALREADY_ASSIGNED'],
    admin: true,
  },
  revokeRole: {
    success: { 200: 'The user with their roles.' },
    errors: ['ERR_NOT_FOUND', 'ERR_ROLE_NOT_ASSIGNED', ...ADMIN_LOCKOUT],
    admin: true,
  },
  listSessions: { success: { 200: 'The sessions of the current user.' }, errors: [] },
  endSession: { success: { 204: 'Session ended.' }, errors: ['ERR_NOT_FOUND'] },
  endOtherSessions: { success: { 200: 'How many other sessions ended.' }, errors: [] },
  logoutEverywhere: {
    success: { 204: 'Every credential ended.' },
    errors: ['ERR_NOT_FOUND'],
    cookie: 'clears',
  },
  listUserSessions: { success: { 200: "The user's sessions." }, errors: ['ERR_NOT_FOUND'], admin: true },
  endUserSessions: {
    success: { 204: 'Every credential of the user ended.' },
    errors: ['ERR_NOT_FOUND'],
    admin: true,
  },
  endUserSession: { success: { 204: 'Session ended.' }, errors: ['ERR_NOT_FOUND'], admin: true },
  oauthAuthorize: {
    success: { 302: "Redirect to the identity provider's login." },
    errors: ['ERR_NOT_FOUND'],
  },
  oauthCallback: {
    success: { 303: 'Logged in (or the provider linked): redirect to the allowed target.' },
    errors: [
      'ERR_NOT_FOUND',
      'ERR_OAUTH_CALLBACK',
      'ERR_OAUTH_LINK_REQUIRED',
      'ERR_OAUTH_ACCOUNT_IN_USE',
      'ERR_CONFLICT',
      'ERR_USER_EXISTS',
      'ERR_INVALID_CREDENTIALS',
      'ERR_NOT_VERIFIED',
      'ERR_INACTIVE',
    ],
    cookie: 'issues',
  },
  oauthFormPostCallback: {
    success: { 303: 'Redirect to the GET callback, with the answer in the query.' },
    errors: ['ERR_NOT_FOUND'],
  },
  linkOAuthAccount: {
    success: { 303: "Redirect to the identity provider's login." },
    errors: ['ERR_NOT_FOUND'],
  },
  listLinkedAccounts: { success: { 200: 'The provider accounts linked to the current user.' }, errors: [] },
  unlinkOAuthAccount: {
    success: { 204: 'Unlinked.' },
    errors: ['ERR_NOT_FOUND', 'ERR_LAST_LOGIN_METHOD'],
  },
  loginSecondFactor: {
    success: { 200: 'Logged in: the user, and the credential of the backend.' },
    errors: ['ERR_INVALID_CREDENTIALS', 'ERR_MFA_CHALLENGE', 'ERR_INACTIVE', ...THROTTLED],
    cookie: 'issues',
  },
  loginSecondFactorPasskeyOptions: {
    success: { 200: 'Options for `navigator.credentials.get()`, bound to this login challenge.' },
    errors: ['ERR_MFA_CHALLENGE', 'ERR_INACTIVE', 'ERR_NOT_FOUND'],
  },
  reauthenticate: {
    success: { 204: 'Proof recorded.' },
    errors: ['ERR_WRONG_PASSWORD', 'ERR_INVALID_OTP', ...THROTTLED],
  },
  reauthenticatePasskeyOptions: {
    success: { 200: 'Options for `navigator.credentials.get()`, bound to this credential.' },
    errors: ['ERR_NOT_FOUND'],
  },
  getTwoFactorStatus: { success: { 200: 'Which factors are on.' }, errors: [] },
  enrolTotp: {
    success: { 200: 'The secret, its URI and QR code.' },
    errors: ['ERR_STEP_UP_REQUIRED', 'ERR_CONFLICT'],
  },
  confirmTotp: {
    success: { 200: 'The recovery codes, shown once.' },
    errors: ['ERR_INVALID_OTP', 'ERR_CONFLICT', ...THROTTLED],
  },
  disableTotp: { success: { 204: 'TOTP is off.' }, errors: ['ERR_STEP_UP_REQUIRED'] },
  regenerateRecoveryCodes: {
    success: { 200: 'The new recovery codes, shown once.' },
    errors: ['ERR_STEP_UP_REQUIRED', 'ERR_CONFLICT'],
  },
  passkeyLoginOptions: { success: { 200: 'Options for `navigator.credentials.get()`.' }, errors: [] },
  passkeyLogin: {
    success: { 200: 'Logged in: the user, and the credential of the backend.' },
    errors: ['ERR_INVALID_CREDENTIALS', 'ERR_NOT_VERIFIED', 'ERR_INACTIVE'],
    cookie: 'issues',
  },
  passkeyRegistrationOptions: {
    success: { 200: 'Options for `navigator.credentials.create()`.' },
    errors: ['ERR_WRONG_PASSWORD', 'ERR_STEP_UP_REQUIRED', ...THROTTLED],
  },
  createPasskey: { success: { 201: 'The passkey, stored.' }, errors: ['ERR_CONFLICT'] },
  listPasskeys: { success: { 200: 'Your passkeys, oldest first.' }, errors: [] },
  renamePasskey: { success: { 200: 'The passkey, renamed.' }, errors: ['ERR_NOT_FOUND'] },
  deletePasskey: {
    success: { 204: 'Passkey removed.' },
    errors: [
      'ERR_NOT_FOUND',
      'ERR_WRONG_PASSWORD',
      'ERR_STEP_UP_REQUIRED',
      'ERR_LAST_LOGIN_METHOD',
      ...THROTTLED,
    ],
  },
}
