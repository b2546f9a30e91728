/**
 * Bearer-token credentials (`API_TOKEN` for POST /calls, `METRICS_TOKEN` for /metrics): parsing
 * the Authorization header and comparing secrets in constant time. One place, so every route and
 * the guard agree on what a valid credential is.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The credentials of a `Bearer` Authorization header (scheme case-insensitive), or null. */
export function bearer(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return m?.[1] ?? null;
}

/**
 * Constant-time comparison of two secrets of any length: both sides are hashed to 32 bytes
 * first, so neither the content nor the length of the expected token leaks through timing.
 */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Whether `header` carries exactly `expected` as a Bearer token (false when none is expected). */
export function hasBearer(header: string | string[] | undefined, expected: string | undefined): boolean {
  if (expected === undefined) return false;
  const presented = bearer(header);
  return presented !== null && sameSecret(presented, expected);
}
