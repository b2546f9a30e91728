/**
 * Stream credentials, checked before anything else about an upgrade: the per-call token in the
 * path (HMAC, expiry) and, when the upgrade carries one, Twilio's signature of the public wss://
 * URL. A request that passes is never refused for its source IP's record or rate.
 *
 * Pure apart from the HMACs; no I/O, never throws.
 */
import { createHash } from 'node:crypto';
import { isValidTwilioSignature } from '../twilio/signature.js';
import { verifyStreamToken } from '../twilio/stream-token.js';

export type CredentialRejection = 'missing_token' | 'bad_token' | 'expired_token' | 'bad_signature';

export type CredentialVerdict =
  | { readonly ok: true; readonly callSid: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: CredentialRejection };

export interface CredentialInput {
  readonly streamSecret: string;
  /** Without it (development), upgrade signatures cannot be checked and are ignored. */
  readonly twilioAuthToken: string | undefined;
  /** The public `wss://` origin plus the stream path, e.g. `wss://voice.example.com/twilio/stream`. */
  readonly streamUrlBase: string;
  /** The path segment after the stream path; '' when absent. */
  readonly token: string;
  /** The X-Twilio-Signature header as received (a repeated header arrives as an array). */
  readonly signature: string | string[] | undefined;
  readonly now: number;
}

export function checkStreamCredentials(input: CredentialInput): CredentialVerdict {
  if (input.token === '') return { ok: false, reason: 'missing_token' };
  const token = verifyStreamToken(input.streamSecret, input.token, input.now);
  if (!token.ok) return { ok: false, reason: token.reason === 'expired' ? 'expired_token' : 'bad_token' };
  // base64url decoding ignores a trailing partial character, so `token + 'x'` (and other spellings
  // of the last character) decode to the same bytes. Only the canonical spelling is accepted.
  const canonical = Buffer.from(input.token, 'base64url').toString('base64url');
  if (canonical !== input.token) return { ok: false, reason: 'bad_token' };
  if (input.signature !== undefined && input.twilioAuthToken) {
    const signature = typeof input.signature === 'string' ? input.signature : undefined;
    // Twilio signs the URL it connected to, with no parameters (SPEC: "Stream credentials").
    const url = `${input.streamUrlBase}/${input.token}`;
    if (!isValidTwilioSignature(input.twilioAuthToken, signature, url, {})) {
      return { ok: false, reason: 'bad_signature' };
    }
  }
  return { ok: true, callSid: token.callSid, expiresAt: token.expiresAt };
}

/**
 * The token segment of a request URL under `streamPath`: undefined when the URL is elsewhere,
 * '' when the segment is missing or empty. Query strings are ignored (Twilio drops them).
 */
export function streamTokenOf(url: string, streamPath: string): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === streamPath) return '';
  if (!path.startsWith(streamPath + '/')) return undefined;
  return path.slice(streamPath.length + 1);
}

/**
 * The token to judge for a request, given where Fastify's router sent it (`routeUrl`, `params`):
 * the router's own `:token` when it routed the request to `streamPath/:token`, whatever the
 * spelling (`/twilio/%73tream/…`, escapes in the token), so the guard judges exactly what the
 * route would serve; else the raw URL's segment under `streamPath` (`/twilio/stream/a/b`, which
 * the router answers 404, still costs budget and earns a cooldown). Undefined: not a stream path.
 */
export function streamTokenFor(routeUrl: string | undefined, params: unknown, url: string, streamPath: string): string | undefined {
  if (routeUrl === `${streamPath}/:token`) {
    const token = (params as { readonly token?: unknown } | undefined)?.token;
    return typeof token === 'string' ? token : '';
  }
  return streamTokenOf(url, streamPath);
}

/**
 * The store key for a used token, from what the token proves (CallSid and expiry) rather than
 * its spelling, and hashed so the store never holds anything a client could present.
 */
export function tokenId(callSid: string, expiresAt: number): string {
  return createHash('sha256').update(`${callSid}:${expiresAt}`).digest('base64url').slice(0, 22);
}
