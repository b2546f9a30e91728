/**
 * Per-call stream tokens: an HMAC-SHA-256 under STREAM_SECRET binding a CallSid and an expiry.
 *
 * Twilio drops query strings from `<Stream url>`, so the token travels in the URL path and again
 * as `<Parameter name="token">`. It must be verifiable from the path alone (the pre-upgrade guard
 * has nothing else), so it carries the CallSid in clear; only the MAC is secret-derived.
 *
 * Layout (then base64url, no padding):
 *   version (1 byte = 1) | expiry (uint32 BE, Unix seconds) | sid length (1 byte) | CallSid (ASCII) | MAC (32 bytes)
 * The MAC covers a domain-separation label and every byte before it.
 *
 * Pure: time is passed in, nothing is logged, malformed input returns a verdict and never throws.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isCallSid, MAX_CALL_SID_LENGTH } from './call-sid.js';

const VERSION = 1;
const MAC_BYTES = 32;
const HEADER_BYTES = 1 + 4 + 1;
const LABEL = Buffer.from('voice-bridge/stream-token/v1\0');
/** Longest possible token: header + 64-byte sid + MAC, base64url. Anything longer is refused unread. */
export const MAX_TOKEN_LENGTH = Math.ceil(((HEADER_BYTES + MAX_CALL_SID_LENGTH + MAC_BYTES) * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type TokenVerdict =
  | { readonly ok: true; readonly callSid: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'expired' | 'forged' };

function mac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(LABEL).update(body).digest();
}

/** When a token minted at `nowMs` expires, in whole seconds since the epoch (as it states it). */
export function tokenExpirySeconds(nowMs: number, ttlSeconds: number): number {
  return Math.floor(nowMs / 1000) + ttlSeconds;
}

/**
 * Mints a token for `callSid` valid until `nowMs + ttlSeconds`.
 * @throws TypeError if the CallSid is not 1–64 ASCII letters and digits (a programming error:
 *   webhook handlers validate the CallSid before minting).
 */
export function mintStreamToken(secret: string, callSid: string, nowMs: number, ttlSeconds: number): string {
  if (!isCallSid(callSid)) throw new TypeError('callSid must be 1-64 ASCII letters and digits');
  const expiresAt = tokenExpirySeconds(nowMs, ttlSeconds);
  const body = Buffer.alloc(HEADER_BYTES + callSid.length);
  body.writeUInt8(VERSION, 0);
  body.writeUInt32BE(expiresAt, 1);
  body.writeUInt8(callSid.length, 5);
  body.write(callSid, HEADER_BYTES, 'latin1');
  return Buffer.concat([body, mac(secret, body)]).toString('base64url');
}

/** Verifies a token's shape, MAC (constant time) and expiry, in that order. */
export function verifyStreamToken(secret: string, token: unknown, nowMs: number): TokenVerdict {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !BASE64URL.test(token)) {
    return { ok: false, reason: 'malformed' };
  }
  const raw = Buffer.from(token, 'base64url');
  // base64url has several spellings of the same bytes (a stray trailing character, non-zero
  // padding bits); only the canonical one is the token, so a re-spelt copy is not a new token.
  if (raw.toString('base64url') !== token) return { ok: false, reason: 'malformed' };
  if (raw.length < HEADER_BYTES + 1 + MAC_BYTES || raw.readUInt8(0) !== VERSION) {
    return { ok: false, reason: 'malformed' };
  }
  const sidLength = raw.readUInt8(5);
  if (raw.length !== HEADER_BYTES + sidLength + MAC_BYTES) return { ok: false, reason: 'malformed' };
  const body = raw.subarray(0, HEADER_BYTES + sidLength);
  const given = raw.subarray(HEADER_BYTES + sidLength);
  if (!timingSafeEqual(given, mac(secret, body))) return { ok: false, reason: 'forged' };
  const callSid = body.toString('latin1', HEADER_BYTES);
  if (!isCallSid(callSid)) return { ok: false, reason: 'malformed' };
  const expiresAt = raw.readUInt32BE(1);
  if (Math.floor(nowMs / 1000) >= expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, callSid, expiresAt };
}
