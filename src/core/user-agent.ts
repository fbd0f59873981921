/**
 * A summary of a `User-Agent` for people (browser and operating system), shown in the session list.
 *
 * @module
 */

const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:Chrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
]
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
]

/**
 * Browser and operating system of a `User-Agent`, by a few well-known tokens (no version, no device
 * model): enough for a person to recognise their devices, and nothing that must be kept up to date.
 *
 * @example
 * ```ts
 * describeUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) ... Chrome/131.0 Safari/537.36')
 * // { browser: 'Chrome', os: 'Windows' }
 * ```
 */
export function describeUserAgent(userAgent: string | null): { browser: string | null; os: string | null } {
  const ua = userAgent ?? ''
  const find = (table: ReadonlyArray<readonly [RegExp, string]>) =>
    table.find(([pattern]) => pattern.test(ua))?.[1] ?? null
  return { browser: find(BROWSERS), os: find(SYSTEMS) }
}
