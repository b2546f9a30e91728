/**
 * The body of `POST /calls`, validated: `{ "to": "+E.164", "greeting"?: "…" }`.
 * Pure: returns the request or the sentence that says what is wrong.
 */
import { isE164 } from '../config.js';

/** A greeting is one or two spoken sentences; 500 characters is ~30 s of speech. */
export const MAX_GREETING_CHARS = 500;

export interface CallRequest {
  readonly to: string;
  /** Spoken first by the assistant on this call (else GREETING, else the callee speaks first). */
  readonly greeting: string | undefined;
}

export type CallRequestVerdict = { ok: true; request: CallRequest } | { ok: false; message: string };

const KNOWN_FIELDS = new Set(['to', 'greeting']);
/** Control characters (C0 and DEL, newlines included): a greeting is one line of speech. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function parseCallRequest(body: unknown): CallRequestVerdict {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'the body must be a JSON object such as {"to": "+15551234567"}' };
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknown.length > 0) {
    return { ok: false, message: `unknown field${unknown.length === 1 ? '' : 's'}: ${unknown.slice(0, 5).join(', ')} (allowed: to, greeting)` };
  }
  const { to, greeting } = fields;
  if (to === undefined) return { ok: false, message: '"to" is required: the number to call, in E.164 form such as +15551234567' };
  if (typeof to !== 'string' || !isE164(to)) {
    return { ok: false, message: '"to" must be a phone number in E.164 form such as +15551234567 (a plus, then 2 to 15 digits)' };
  }
  if (greeting === undefined) return { ok: true, request: { to, greeting: undefined } };
  if (typeof greeting !== 'string') return { ok: false, message: '"greeting" must be a string' };
  const text = greeting.trim();
  if (text === '') return { ok: false, message: '"greeting" must not be empty (leave it out instead)' };
  if (text.length > MAX_GREETING_CHARS) {
    return { ok: false, message: `"greeting" must be at most ${MAX_GREETING_CHARS} characters (got ${text.length})` };
  }
  if (hasControlCharacter(text)) return { ok: false, message: '"greeting" must be one line of text without control characters' };
  return { ok: true, request: { to, greeting: text } };
}
