/**
 * Optional packages loaded on their first use: an application pays the memory of a package (a native
 * binding, a protocol library) only when it uses the feature.
 *
 * @module
 */

/**
 * A function that runs `load` on its first call and answers every call with that first promise, so
 * concurrent first calls share one load.
 *
 * @example
 * ```ts
 * const argon2Binding = loadOnce(() => import('@node-rs/argon2'))
 * const { hash } = await argon2Binding()
 * ```
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return () => {
    loading ??= load()
    return loading
  }
}
