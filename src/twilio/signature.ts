/**
 * X-Twilio-Signature checks, done by the twilio package (HMAC-SHA1 over URL + sorted params,
 * compared in constant time). The URL is always rebuilt from PUBLIC_URL, never from the Host
 * header, which the client controls.
 */
import twilio from 'twilio';

/** The URL Twilio signed: PUBLIC_URL (or its ws form) + the request's path and query as received. */
export function signedUrl(publicBase: string, requestUrl: string): string {
  return publicBase + requestUrl;
}

/**
 * True when `signature` is Twilio's signature of `url` + `params` under `authToken`.
 * A missing or oversized header is simply invalid (no throw).
 */
export function isValidTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Readonly<Record<string, string>>,
): boolean {
  // A SHA-1 HMAC in base64 is 28 characters; anything much longer is not worth hashing.
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > 128) return false;
  try {
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false;
  }
}

export type WebhookSignatureVerdict = 'ok' | 'missing_signature' | 'bad_signature';

/**
 * The check every webhook makes (and the guard, before it lets a signed request past a ban): the
 * X-Twilio-Signature header against PUBLIC_URL + the request's path and query + the form params.
 * A repeated header (an array) is a bad signature.
 */
export function checkWebhookSignature(
  authToken: string,
  publicUrl: string,
  requestUrl: string,
  header: string | string[] | undefined,
  params: Readonly<Record<string, string>>,
): WebhookSignatureVerdict {
  if (header === undefined || header === '') return 'missing_signature';
  const signature = typeof header === 'string' ? header : undefined;
  return isValidTwilioSignature(authToken, signature, signedUrl(publicUrl, requestUrl), params) ? 'ok' : 'bad_signature';
}

/** base64 of 20 to 96 bytes, padded. */
const SIGNATURE_SHAPE = /^[A-Za-z0-9+/]{27,128}={0,2}$/;

/**
 * Could this header be a Twilio signature at all? An HMAC-SHA1 in base64 is 28 characters; the
 * bound is lenient (base64 of 20 to 96 bytes) so a longer digest Twilio might adopt still counts
 * as signed, while anything else is judged as unsigned without reading the body.
 */
export function looksLikeSignature(header: string | string[] | undefined): boolean {
  return typeof header === 'string' && SIGNATURE_SHAPE.test(header);
}
