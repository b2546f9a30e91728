/**
 * Who may read `/metrics`: a pure decision, so every rule is tested without a socket.
 *
 * With `METRICS_TOKEN` set, the request must carry `Authorization: Bearer <token>` (from any
 * address, loopback included: a token, once configured, is the one rule). Without it, only
 * loopback callers are served, judged by `request.ip`: behind Caddy with `TRUST_PROXY` naming
 * Caddy, that is the real client's address, so public clients are refused even if a proxy rule
 * ever let `/metrics` through.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type MetricsAccess = 'allow' | 'bad_token' | 'not_loopback';

export interface MetricsAccessInput {
  /** `METRICS_TOKEN`, when configured. */
  readonly token: string | undefined;
  /** The raw `Authorization` header. */
  readonly authorization: string | undefined;
  /** `request.ip`: the socket address, or the client named by a trusted proxy. */
  readonly ip: string;
}

export function metricsAccess(input: MetricsAccessInput): MetricsAccess {
  if (input.token !== undefined) {
    const presented = bearer(input.authorization);
    return presented !== null && sameSecret(presented, input.token) ? 'allow' : 'bad_token';
  }
  return isLoopback(input.ip) ? 'allow' : 'not_loopback';
}

/** The credentials of a `Bearer` Authorization header (scheme case-insensitive), or null. */
export function bearer(header: string | undefined): string | null {
  if (header === undefined) return null;
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

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const MAPPED_LOOPBACK_V4 = /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;

/** 127.0.0.0/8, ::1, and 127.x as an IPv4-mapped IPv6 address (a dual-stack listener's view). */
export function isLoopback(ip: string): boolean {
  return LOOPBACK_V4.test(ip) || MAPPED_LOOPBACK_V4.test(ip) || ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}
