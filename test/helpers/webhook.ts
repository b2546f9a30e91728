import twilio from 'twilio';
import { TEST_AUTH_TOKEN } from './config.js';

export interface SignOptions {
  /** The bridge's PUBLIC_URL, which Twilio signs. @default https://voice.example.com */
  readonly publicUrl?: string;
  /** Token to sign with; null sends no signature. @default TEST_AUTH_TOKEN */
  readonly authToken?: string | null;
  /** Send this X-Twilio-Signature instead of computing one (forged-signature tests). */
  readonly signature?: string;
}

/**
 * A Twilio webhook request as Twilio sends it: a form body and X-Twilio-Signature over
 * PUBLIC_URL + path + params, computed by the twilio package itself. Spread into `fetch`
 * (`body`) or `app.inject` (`payload`).
 */
export function signedWebhook(
  path: string,
  params: Readonly<Record<string, string>>,
  opts: SignOptions = {},
): { headers: Record<string, string>; body: string; payload: string } {
  const body = new URLSearchParams(params).toString();
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const authToken = opts.authToken === undefined ? TEST_AUTH_TOKEN : opts.authToken;
  const signature =
    opts.signature ??
    (authToken === null
      ? undefined
      : twilio.getExpectedTwilioSignature(authToken, (opts.publicUrl ?? 'https://voice.example.com') + path, { ...params }));
  if (signature !== undefined) headers['x-twilio-signature'] = signature;
  return { headers, body, payload: body };
}
