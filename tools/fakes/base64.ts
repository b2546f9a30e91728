/** Base64 as the real peers accept it: the fakes refuse what they would refuse. */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict standard base64 (RFC 4648 §4, padded). `Buffer.from(s, 'base64')` silently skips bad
 * characters, so the fakes check with this first and report a protocol error instead.
 */
export function isStrictBase64(value: string): boolean {
  return BASE64_RE.test(value);
}

/** Decodes strict base64, or returns null when `value` is not strict base64. */
export function decodeBase64(value: string): Buffer | null {
  return isStrictBase64(value) ? Buffer.from(value, 'base64') : null;
}
