/**
 * Who may read `/metrics`: a pure decision, so every rule is tested without a socket.
 *
 * With `METRICS_TOKEN` set, the request must carry `Authorization: Bearer <token>` (from any
 * address, loopback included: a token, once configured, is the one rule). Without it, only
 * loopback callers are served, judged by `request.ip`: behind Caddy with `TRUST_PROXY` naming
 * Caddy, that is the real client's address, so public clients are refused even if a proxy rule
 * ever let `/metrics` through.
 */
import { hasBearer } from '../bearer.js';

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
  if (input.token !== undefined) return hasBearer(input.authorization, input.token) ? 'allow' : 'bad_token';
  return isLoopback(input.ip) ? 'allow' : 'not_loopback';
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const MAPPED_LOOPBACK_V4 = /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;

/** 127.0.0.0/8, ::1, and 127.x as an IPv4-mapped IPv6 address (a dual-stack listener's view). */
export function isLoopback(ip: string): boolean {
  return LOOPBACK_V4.test(ip) || MAPPED_LOOPBACK_V4.test(ip) || ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}
