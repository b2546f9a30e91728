/**
 * X-Twilio-Signature checks, done by the twilio package (HMAC-SHA1 over URL + sorted params,
 * compared in constant time). The URL is always rebuilt from PUBLIC_URL, never from the Host
 * header, which the client controls.
 */
import { sendError } from '../http-errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
export type SignatureRejection = Exclude<WebhookSignatureVerdict, 'ok'>;

/** Told when a webhook's signature fails, so the guard can penalise the source (flood rule, cooldown). */
export type OnBadSignature = (request: FastifyRequest, reason: SignatureRejection) => void;

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

/**
 * What every webhook route does first (in its handler, once the form body is parsed): with an
 * auth token configured, check the signature; on failure log it, tell `onBadSignature`, answer
 * 403 `{ error: 'Forbidden', reason }` and return false. Without a token (development) every
 * request passes. Synchronous on purpose: nothing here awaits the (thenable) reply.
 */
export function requireWebhookSignature(
  settings: { readonly twilioAuthToken: string | undefined; readonly publicUrl: string },
  request: FastifyRequest,
  reply: FastifyReply,
  onBadSignature: OnBadSignature | undefined,
): boolean {
  if (!settings.twilioAuthToken) return true;
  const body = (request.body ?? {}) as Record<string, string>;
  const verdict = checkWebhookSignature(settings.twilioAuthToken, settings.publicUrl, request.url, request.headers['x-twilio-signature'], body);
  if (verdict === 'ok') return true;
  // (A signed-looking request that fails was refused by the guard before it got here; this
  // line is for unsigned ones, which the guard's flood rule bounds.)
  request.log.warn(
    { reason: verdict, route: request.routeOptions.url },
    'webhook signature rejected (check PUBLIC_URL matches the URL configured in Twilio)',
  );
  onBadSignature?.(request, verdict);
  void sendError(reply, 403, verdict);
  return false;
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
