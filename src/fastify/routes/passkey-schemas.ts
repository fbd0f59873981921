/**
 * The schema of a WebAuthn assertion or attestation in a request body, shared by the passkey routes, the
 * second step and reauthentication.
 *
 * @module
 */
import { Type } from 'typebox'

/**
 * A browser's `PublicKeyCredential` as JSON (`credential.toJSON()`); checked in depth by the WebAuthn
 * verification.
 *
 * @example
 * ```ts
 * const body = { challenge, passkey: credential.toJSON() }
 * ```
 */
export const Credential = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 1400 }),
    rawId: Type.String({ minLength: 1, maxLength: 1400 }),
    type: Type.Literal('public-key'),
    response: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: true },
)
