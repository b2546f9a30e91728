/**
 * What both peers' parsers (twilio-protocol.ts, realtime-validate.ts) read a message with: its
 * JSON text, the object check, and strict base64 for the audio. Each parser then checks its own
 * fields; these only turn text into values without trusting it. Pure, never throws.
 */

import type { RawData } from 'ws';

export type JsonObject = Record<string, unknown>;

/** One Buffer for a message as ws hands it over (a Buffer unless binaryType says otherwise). */
export function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** A JSON object: not null, not an array. */
export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What parseJsonText returns for text that is not JSON (a symbol, so no JSON value equals it). */
export const NOT_JSON: unique symbol = Symbol('not JSON');

/** A text frame's JSON value (a Buffer is read as UTF-8), or NOT_JSON. */
export function parseJsonText(data: Buffer | string): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/**
 * Strict base64 (standard alphabet, length a multiple of 4, at most two trailing `=`), decoded;
 * null for anything else. Buffer.from(…, 'base64') never fails, so strictness is checked around
 * it, without a regex pass over the text (this runs for every media frame):
 * - Node's decoder also takes base64url's `-` and `_`: refused explicitly;
 * - it reads a UTF-16 code unit above 0xFF by its low byte ('Ł' = U+0141 as 'A'): refused by
 *   requiring ASCII (UTF-8 length = length);
 * - every other character (spaces, `*`, `=` before the end) it skips or stops at, so the output
 *   is shorter than the length the text implies — 3 bytes per 4 characters, minus one per `=` of
 *   padding — which the final comparison refuses.
 */
export function decodeStrictBase64(text: string): Buffer | null {
  const n = text.length;
  if (n === 0 || n % 4 !== 0) return null;
  if (Buffer.byteLength(text, 'utf8') !== n || text.indexOf('-') !== -1 || text.indexOf('_') !== -1) return null;
  const padding = text.charCodeAt(n - 1) === 61 /* = */ ? (text.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === (n / 4) * 3 - padding ? decoded : null;
}
