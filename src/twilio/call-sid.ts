/**
 * What counts as a CallSid here: Twilio's are `CA` + 32 hex digits, but any 1–64 ASCII letters
 * and digits are accepted so local stand-ins work too. The bound keeps it one byte of length in a
 * stream token (stream-token.ts) and safe to log, key on and put in a URL path unescaped.
 */

/** Longest CallSid accepted, in characters (one byte each: ASCII). */
export const MAX_CALL_SID_LENGTH = 64;

const CALL_SID_PATTERN = new RegExp(`^[A-Za-z0-9]{1,${MAX_CALL_SID_LENGTH}}$`);

/** Browser calls' CallSids (POST /calls/browser): this prefix and 32 hex digits; Twilio's start with CA. */
export const BROWSER_CALL_SID_PREFIX = 'BR';

/** A call from the console's softphone: there is no Twilio call to hang up or transfer. */
export function isBrowserCallSid(callSid: string): boolean {
  return callSid.startsWith(BROWSER_CALL_SID_PREFIX);
}

/** Whether `value` is a CallSid as every webhook, the REST client and the stream token accept it. */
export function isCallSid(value: unknown): value is string {
  return typeof value === 'string' && CALL_SID_PATTERN.test(value);
}
