/**
 * A fast path for Twilio's `media` message, the one message that arrives 50 times a second per
 * call: it reads the frame's bytes in place when they are laid out exactly as Twilio writes them
 *
 *   {"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",
 *    "timestamp":"5","payload":"<base64>"},"streamSid":"MZ…"}
 *
 * (compact, this key order, counters as decimal strings), without decoding the frame to a string
 * or building it with JSON.parse: per frame that is ~0.8 µs and ~900 bytes of garbage less.
 *
 * It never decides anything the general parser would decide differently: a value it accepts has
 * no escapes, no whitespace and no character outside a narrow set, so JSON.parse would read the
 * same keys and values, and the general media rules (twilio-protocol.ts) accept them with the same
 * result. Anything else — another key order, spacing, an escape, a missing field, a payload that
 * is not strict base64 — returns undefined and the frame takes the general path, which gives the
 * verdict. Tested as a property: whenever this returns a message, the general path returns an
 * equal one.
 */
import type { TwilioMedia } from './twilio-protocol.js';
import { decodeStrictBase64 } from './peer-input.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const HEAD = ascii('{"event":"media","sequenceNumber":"');
const TRACK = ascii('","media":{"track":"');
const CHUNK = ascii('","chunk":"');
const TIMESTAMP = ascii('","timestamp":"');
const PAYLOAD = ascii('","payload":"');
const STREAM_SID = ascii('"},"streamSid":"');
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/** Longest counter: 15 digits keeps it a safe integer (as the general path's MAX_COUNTER_DIGITS). */
const MAX_DIGITS = 15;
/** Longest track or streamSid read here (Twilio's sids are 34 characters); longer ones take the general path. */
const MAX_WORD = 64;

/** 1 for the characters of a track name or sid read here: A–Z a–z 0–9 _. */
const WORD = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_') WORD[c.charCodeAt(0)] = 1;

/**
 * Where the last read ended and the number it read. Scratch state shared by the readers below:
 * scanning is synchronous and never re-entered, so one instance serves every call.
 */
const cursor = { pos: 0, num: 0 };

/** Skips `literal` at cursor.pos; false if the bytes differ. */
function literal(b: Buffer, lit: Buffer): boolean {
  const start = cursor.pos;
  const n = lit.length;
  if (start + n > b.length) return false;
  for (let i = 0; i < n; i++) if (b[start + i] !== lit[i]) return false;
  cursor.pos = start + n;
  return true;
}

/** 1–MAX_DIGITS decimal digits up to the closing quote, into cursor.num. */
function digits(b: Buffer): boolean {
  const start = cursor.pos;
  const end = Math.min(b.length, start + MAX_DIGITS);
  let value = 0;
  let i = start;
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  if (i === start || b[i] !== QUOTE) return false;
  cursor.pos = i;
  cursor.num = value;
  return true;
}

/** 1–MAX_WORD word characters up to the closing quote; returns them, or undefined. */
function word(b: Buffer): string | undefined {
  const start = cursor.pos;
  const end = Math.min(b.length, start + MAX_WORD);
  let i = start;
  while (i < end && WORD[b[i] as number] === 1) i++;
  if (i === start || b[i] !== QUOTE) return undefined;
  cursor.pos = i;
  return b.toString('latin1', start, i);
}

/**
 * The payload up to the closing quote (found by memchr), decoded by the one strict base64 reader
 * both peers' parsers use (peer-input.ts); undefined when it is not strict base64.
 */
function base64(b: Buffer): Buffer | undefined {
  const start = cursor.pos;
  const end = b.indexOf(QUOTE, start);
  if (end === -1) return undefined;
  const decoded = decodeStrictBase64(b.toString('latin1', start, end));
  if (decoded === null) return undefined;
  cursor.pos = end;
  return decoded;
}

/** The media message in `b`, if it is laid out exactly as Twilio writes it; else undefined (use the general parser). */
export function scanTwilioMedia(b: Buffer): TwilioMedia | undefined {
  cursor.pos = 0;
  if (!literal(b, HEAD) || !digits(b)) return undefined;
  const sequenceNumber = cursor.num;
  if (!literal(b, TRACK)) return undefined;
  const track = word(b);
  if (track === undefined || !literal(b, CHUNK) || !digits(b)) return undefined;
  const chunk = cursor.num;
  if (!literal(b, TIMESTAMP) || !digits(b)) return undefined;
  const timestamp = cursor.num;
  if (!literal(b, PAYLOAD)) return undefined;
  const payload = base64(b);
  if (payload === undefined || !literal(b, STREAM_SID)) return undefined;
  const streamSid = word(b);
  const end = cursor.pos;
  if (streamSid === undefined || end + 2 !== b.length || b[end] !== QUOTE || b[end + 1] !== CLOSE_BRACE) return undefined;
  return { event: 'media', sequenceNumber, streamSid, media: { track, chunk, timestamp, payload } };
}
