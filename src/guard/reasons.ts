/**
 * Every reason the guard refuses or rejects for: one registry, so a refusal's body
 * (`{"error": …, "reason": code}`), its `rejections_total{reason}` label and its log lines all
 * name it by the same stable code. Codes are part of the contract (dashboards and alerts match
 * on them; docs/metrics.md lists them): never rename one, add a new one instead.
 *
 * `statuses` are the HTTP statuses the guard answers with for the reason; empty where the guard
 * only counts it and something else answers (a route's own 401/403, a reset connection).
 * `message` says what it means, for people (docs, reviews); bodies carry the code only.
 *
 * Each key equals its code (test/guard/reasons.test.ts), in the style of fastify's errors.js.
 */

export type RefusalStatus = 401 | 403 | 409 | 429 | 503;

export interface ReasonSpec {
  readonly code: string;
  readonly statuses: readonly RefusalStatus[];
  readonly message: string;
}

export const REASONS = Object.freeze({
  // A stream upgrade's credentials (credentials.ts): 401 unless the address is refused anyway.
  missing_token: { code: 'missing_token', statuses: [401], message: 'stream upgrade without a token' },
  bad_token: { code: 'bad_token', statuses: [401], message: 'stream token that does not verify' },
  expired_token: { code: 'expired_token', statuses: [401], message: 'stream token past its expiry' },
  // Also a webhook's: 403 there (signed-webhooks.ts), 401 on an upgrade.
  bad_signature: { code: 'bad_signature', statuses: [401, 403], message: 'X-Twilio-Signature that does not verify' },
  missing_signature: { code: 'missing_signature', statuses: [403], message: 'webhook without X-Twilio-Signature' },
  bad_api_token: { code: 'bad_api_token', statuses: [], message: 'wrong API bearer token (the route answers 401)' },
  // The address's record (decide.ts).
  cooldown: { code: 'cooldown', statuses: [403], message: 'address cooling down after a rejected credential' },
  banned: { code: 'banned', statuses: [403], message: 'address banned after repeated rejections' },
  flood: { code: 'flood', statuses: [403], message: 'address over the flood rule (any route)' },
  rate_limited: { code: 'rate_limited', statuses: [429], message: 'address over its anonymous upgrade budget' },
  automated_tool: { code: 'automated_tool', statuses: [403, 429], message: 'one user agent bursting from one address' },
  health_rate_limited: { code: 'health_rate_limited', statuses: [429], message: 'health routes past their per-address budget' },
  asset_rate_limited: { code: 'asset_rate_limited', statuses: [429], message: 'console files past their per-address budget' },
  connection_cap: { code: 'connection_cap', statuses: [], message: 'connection reset: its address holds the most open' },
  // Admission of a valid stream (stream-admission.ts).
  token_reused: { code: 'token_reused', statuses: [409], message: 'stream token already used' },
  call_live: { code: 'call_live', statuses: [409], message: 'the CallSid already streams' },
  capacity: { code: 'capacity', statuses: [503], message: 'MAX_CALLS streams open' },
  ip_cap: { code: 'ip_cap', statuses: [429], message: 'MAX_STREAMS_PER_IP streams open from this address' },
  draining: { code: 'draining', statuses: [503], message: 'instance draining: no new streams' },
} as const satisfies Record<string, ReasonSpec>);

export type RefusalReason = keyof typeof REASONS;
