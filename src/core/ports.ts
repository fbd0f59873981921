/**
 * The narrow interfaces the service's collaborators use for hashing, new-password rules and tokens. The
 * defaults (`PasswordManager`, `PasswordPolicy`, `TokenCodec`) are built in one place, `service-options.ts`;
 * everything else in `core` sees only these shapes, so a flow can be read, and reused, without them.
 *
 * @module
 */

/**
 * Hashes new passwords and verifies given ones, upgrading outdated hashes.
 *
 * @example
 * ```ts
 * const hashing: PasswordHashing = new PasswordManager({ schemes: ['argon2id'] })
 * ```
 */
export interface PasswordHashing {
  hash(password: string): Promise<string>
  /** `valid`, and a `newHash` when the stored one should be replaced. `hash` `null` still costs a check. */
  verify(password: string, hash: string | null): Promise<{ valid: boolean; newHash?: string | undefined }>
}

/**
 * What a token is for: its audience and its `typ` header.
 *
 * @example
 * ```ts
 * const purpose: TokenPurposeRef = tokenPurposes.reset
 * ```
 */
export interface TokenPurposeRef {
  readonly audience: string
  readonly type: string
}

/**
 * Signs and verifies the service's tokens; `verify` throws `InvalidTokenError` for any bad token.
 *
 * @example
 * ```ts
 * const tokens: TokenSigning = new TokenCodec({ secret })
 * ```
 */
export interface TokenSigning {
  sign(
    purpose: TokenPurposeRef,
    input: { sub: string; lifetimeSeconds: number; claims?: Record<string, unknown> },
  ): string
  verify(token: unknown, purpose: TokenPurposeRef): { sub: string; [claim: string]: unknown }
}

/**
 * Checks a new password (already NFKC-normalised) against the configured policy, given the user it is for;
 * throws `PasswordPolicyError` to refuse.
 *
 * @example
 * ```ts
 * const check: NewPasswordCheck = (password, user) => policy.validate(password, userContextWords(user))
 * ```
 */
export type NewPasswordCheck = (password: string, user: Record<string, unknown>) => Promise<void>
