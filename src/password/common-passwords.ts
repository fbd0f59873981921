/**
 * The list of common passwords refused for new passwords: the `dictionary.passwords` of
 * `@zxcvbn-ts/language-common` (about 49,000 entries, ranked from real password leaks), loaded on first
 * use, once per process.
 *
 * @module
 */

let loading: Promise<ReadonlySet<string>> | undefined

/**
 * The comparison form of a password or a list entry: NFKC (the form passwords are hashed in), then lower
 * case, so `Password1`, `PASSWORD1` and `password1` are all the listed `password1`.
 *
 * @example
 * ```ts
 * commonPasswordForm('ＰａｓｓＷｏｒｄ') // 'password' (full-width letters fold under NFKC)
 * ```
 */
export function commonPasswordForm(password: string): string {
  return password.normalize('NFKC').toLowerCase()
}

/**
 * The common-password list as a set of {@link commonPasswordForm}s. The module (about 400 kB) is imported
 * on the first call only, so applications that never set a password never pay for it; concurrent first
 * calls share one load.
 *
 * @example
 * ```ts
 * const list = await loadCommonPasswords()
 * list.has('iloveyou') // true
 * ```
 */
export function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  loading ??= import('@zxcvbn-ts/language-common').then((mod) => {
    // CommonJS module: named export under NodeNext, or under `default` depending on the loader.
    const source =
      (mod as { dictionary?: { passwords?: unknown } }).dictionary ??
      (mod as { default?: { dictionary?: { passwords?: unknown } } }).default?.dictionary
    const passwords = source?.passwords
    if (!Array.isArray(passwords) || passwords.length < 10_000) {
      throw new Error('fastify-users: @zxcvbn-ts/language-common has no password dictionary')
    }
    return new Set(passwords.map((p) => commonPasswordForm(String(p))))
  })
  // A failed load is retried on the next call instead of failing every later password for good.
  loading.catch(() => {
    loading = undefined
  })
  return loading
}

/**
 * Whether a password is on the common-password list, compared case-insensitively after NFKC.
 *
 * @example
 * ```ts
 * await isCommonPassword('Sunshine')                     // true
 * await isCommonPassword('correct horse battery staple') // false
 * ```
 */
export async function isCommonPassword(password: string): Promise<boolean> {
  return (await loadCommonPasswords()).has(commonPasswordForm(password))
}
