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
