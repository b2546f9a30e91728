/**
 * Twilio's REST API, the three requests call control makes: place a call, hang one up, redirect
 * one. Every request goes to TWILIO_API_BASE_URL (default https://api.twilio.com), so a
 * Twilio-compatible endpoint or a local stand-in can answer.
 *
 * Plain `fetch` rather than the twilio package's client, for three reasons: one deadline covers
 * the whole exchange (connect, headers and body: `AbortSignal.timeout(TWILIO_REST_TIMEOUT_MS)`;
 * the package's axios timeout is a socket-idle timer, so a reply trickling in one byte at a time
 * never ends); the reply is read under a size limit; and a reply we cannot read is classified
 * here instead of surfacing as a TypeError from the package's deserialiser (a 201 with a `null`
 * body used to reach the API client as "Cannot read properties of null (reading 'sid')").
 *
 * The status line decides the outcome; the body only adds details. A 2xx means Twilio acted,
 * even when its body is unreadable: a hang-up or redirect is then done, and a placed call is
 * reported as placed with its details unknown (never as a failure a client would retry, calling
 * twice). No request is ever retried here for the same reason.
 */
import type { Config } from '../config.js';
import { isJsonObject as isObject } from '../stream/peer-input.js';
import { isCallSid } from '../twilio/call-sid.js';

/** Largest reply body read, in bytes: a Call resource is about 2 KB of JSON; more is not Twilio. */
export const MAX_REPLY_BYTES = 64 * 1024;
/** Longest Twilio error message passed on to an API client or the log, in characters. */
export const MAX_ERROR_MESSAGE_CHARS = 500;
/** Twilio's error code for "the requested resource was not found" (a call that already ended). */
export const TWILIO_NOT_FOUND_CODE = 20404;
/**
 * Failures that happen before a request is sent: nothing can have reached Twilio. Any other
 * transport failure (a reset, a timeout) may come after Twilio acted.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * How a request failed:
 * - `refused`: Twilio answered with a non-2xx status (its code and message when readable);
 * - `unreachable`: no connection could be made; the request was never sent;
 * - `timeout`: no complete answer within the deadline; Twilio may have acted;
 * - `connection_lost`: the connection failed after the request may have been sent.
 */
export type RestFailure = 'refused' | 'unreachable' | 'timeout' | 'connection_lost';

/** A failed REST request, with Twilio's HTTP status and error code when it answered. */
export class TwilioApiError extends Error {
  override readonly name = 'TwilioApiError';
  constructor(
    message: string,
    readonly failure: RestFailure,
    /** HTTP status Twilio answered with; undefined when no answer came. */
    readonly status: number | undefined,
    /** Twilio's error code, e.g. 21211 (invalid To number). */
    readonly code: number | undefined,
  ) {
    super(message);
  }

  /** Whether Twilio may have carried out the request although we saw no success. */
  get mayHaveActed(): boolean {
    return this.failure === 'timeout' || this.failure === 'connection_lost';
  }
}

/** What one request brought back, before any meaning is given to it. */
export type RestExchange =
  | {
      readonly kind: 'answered';
      readonly status: number;
      /** The parsed JSON body; undefined when `bodyProblem` says why it could not be read. */
      readonly body: unknown;
      readonly bodyProblem: string | undefined;
    }
  | { readonly kind: 'no_answer'; readonly failure: Exclude<RestFailure, 'refused'>; readonly detail: string };

export interface PlaceCallInput {
  readonly to: string;
  readonly from: string;
  /** Fetched by Twilio when the callee answers: our `/twilio/outbound` webhook. */
  readonly url: string;
  /** Call progress (initiated, ringing, answered, completed) is posted here. */
  readonly statusCallback: string;
}

export type PlaceCallOutcome =
  | { readonly kind: 'placed'; readonly callSid: string }
  /** Twilio answered 2xx (it placed the call) but its reply could not be read: no CallSid. */
  | { readonly kind: 'placed_unconfirmed'; readonly status: number; readonly problem: string }
  | { readonly kind: 'failed'; readonly error: TwilioApiError };

/** What call control needs from Twilio's REST API. Only `placeCall` reports by value, never throws for REST trouble. */
export interface TwilioRest {
  placeCall(input: PlaceCallInput): Promise<PlaceCallOutcome>;
  /** Hangs up (Status=completed); a call that already ended is not an error. @throws TwilioApiError */
  completeCall(callSid: string): Promise<'completed' | 'already_ended'>;
  /** Replaces the live call's instructions with `twiml` (e.g. a <Dial> to transfer it). @throws TwilioApiError */
  redirectCall(callSid: string, twiml: string): Promise<void>;
}

/** Which REST settings are missing (empty when REST calls can be made). */
export function missingRestSettings(config: Pick<Config, 'twilioAccountSid' | 'twilioAuthToken'>): string[] {
  const missing: string[] = [];
  if (!config.twilioAccountSid) missing.push('TWILIO_ACCOUNT_SID');
  if (!config.twilioAuthToken) missing.push('TWILIO_AUTH_TOKEN');
  return missing;
}

/**
 * The start-up line about Twilio REST settings, naming exactly what is missing; null when
 * nothing is (or when nothing REST-related is wanted beyond what is set).
 */
export function restSettingsNotice(
  config: Pick<Config, 'twilioAccountSid' | 'twilioAuthToken' | 'twilioPhoneNumber' | 'apiToken'>,
): string | null {
  const missing = missingRestSettings(config);
  const phoneMissing = config.apiToken !== undefined && !config.twilioPhoneNumber;
  if (missing.length > 0) {
    const all = phoneMissing ? [...missing, 'TWILIO_PHONE_NUMBER'] : missing;
    return `${all.join(', ')} not set: no end_call/transfer_call tools${config.apiToken ? ', and POST /calls answers 503' : ''}`;
  }
  if (phoneMissing) return 'TWILIO_PHONE_NUMBER not set: POST /calls answers 503';
  return null;
}

/** The REST client, or null when TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set. */
export function createTwilioRest(
  config: Pick<Config, 'twilioAccountSid' | 'twilioAuthToken' | 'twilioApiBaseUrl' | 'twilioRestTimeoutMs'>,
): TwilioRest | null {
  const { twilioAccountSid: accountSid, twilioAuthToken: authToken } = config;
  if (!accountSid || !authToken) return null;
  const authorization = 'Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64');
  const callsUrl = `${config.twilioApiBaseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Calls`;
  const post = (url: string, form: URLSearchParams) => postForm(url, form, authorization, config.twilioRestTimeoutMs);

  return {
    async placeCall(input) {
      const form = new URLSearchParams({
        To: input.to,
        From: input.from,
        Url: input.url,
        Method: 'POST',
        StatusCallback: input.statusCallback,
        StatusCallbackMethod: 'POST',
      });
      for (const event of ['initiated', 'ringing', 'answered', 'completed']) form.append('StatusCallbackEvent', event);
      return placeCallOutcome(await post(`${callsUrl}.json`, form), config.twilioRestTimeoutMs);
    },
    async completeCall(callSid) {
      const exchange = await post(`${callsUrl}/${encodeURIComponent(callSid)}.json`, new URLSearchParams({ Status: 'completed' }));
      const error = updateError(exchange, config.twilioRestTimeoutMs);
      if (error && isNotFound(error)) return 'already_ended';
      if (error) throw error;
      return 'completed';
    },
    async redirectCall(callSid, twiml) {
      const exchange = await post(`${callsUrl}/${encodeURIComponent(callSid)}.json`, new URLSearchParams({ Twiml: twiml }));
      const error = updateError(exchange, config.twilioRestTimeoutMs);
      if (error) throw error;
    },
  };
}

/**
 * One POST, start to finish under one deadline (`timeoutMs` covers connecting, the headers and
 * the body). Never throws: every failure comes back as an exchange.
 */
export async function postForm(url: string, form: URLSearchParams, authorization: string, timeoutMs: number): Promise<RestExchange> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      // Twilio does not redirect API calls; following one would resend the credentials elsewhere.
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    return { kind: 'no_answer', ...transportFailure(err, timeoutMs) };
  }
  const body = await readJsonBody(response);
  return { kind: 'answered', status: response.status, ...body };
}

/** The body as JSON, read up to MAX_REPLY_BYTES; a problem instead when it cannot be. */
async function readJsonBody(response: Response): Promise<{ body: unknown; bodyProblem: string | undefined }> {
  const unreadable = (bodyProblem: string) => ({ body: undefined, bodyProblem });
  if (response.body === null) return unreadable('the reply has no body');
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_REPLY_BYTES) {
        await reader.cancel().catch(() => {});
        return unreadable(`the reply is larger than ${MAX_REPLY_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    const { failure, detail } = transportFailure(err, 0);
    return unreadable(failure === 'timeout' ? 'the reply did not arrive in full before the deadline' : `the connection broke mid-reply (${detail})`);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return unreadable('the reply is empty');
  try {
    return { body: JSON.parse(text) as unknown, bodyProblem: undefined };
  } catch {
    return unreadable('the reply is not JSON');
  }
}

/** A fetch rejection as a failure kind and a short detail (an error code, never a URL or header). */
function transportFailure(err: unknown, timeoutMs: number): { failure: Exclude<RestFailure, 'refused'>; detail: string } {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return { failure: 'timeout', detail: `no answer within ${timeoutMs} ms` };
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const detail = code ?? (typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err));
  return { failure: code !== undefined && NOT_SENT_CODES.has(code) ? 'unreachable' : 'connection_lost', detail };
}

/** Calls.json create: 2xx with a readable sid → placed; 2xx otherwise → placed, details unknown. */
export function placeCallOutcome(exchange: RestExchange, timeoutMs: number): PlaceCallOutcome {
  if (exchange.kind === 'no_answer') return { kind: 'failed', error: noAnswerError(exchange, timeoutMs) };
  if (exchange.status < 200 || exchange.status > 299) return { kind: 'failed', error: refusedError(exchange) };
  const sid = isObject(exchange.body) ? exchange.body.sid : undefined;
  if (isCallSid(sid)) return { kind: 'placed', callSid: sid };
  const problem = exchange.bodyProblem ?? (isObject(exchange.body) ? 'the reply has no valid "sid"' : 'the reply is not a JSON object');
  return { kind: 'placed_unconfirmed', status: exchange.status, problem };
}

/** Calls/{sid}.json update: null when done (any 2xx, whatever its body), else why not. */
export function updateError(exchange: RestExchange, timeoutMs: number): TwilioApiError | null {
  if (exchange.kind === 'no_answer') return noAnswerError(exchange, timeoutMs);
  if (exchange.status >= 200 && exchange.status <= 299) return null;
  return refusedError(exchange);
}

/** Twilio's answer for a call that no longer exists or already ended (404 / 20404). */
export function isNotFound(error: TwilioApiError): boolean {
  return error.status === 404 || error.code === TWILIO_NOT_FOUND_CODE;
}

function noAnswerError(exchange: Extract<RestExchange, { kind: 'no_answer' }>, timeoutMs: number): TwilioApiError {
  const message =
    exchange.failure === 'timeout'
      ? `Twilio API did not answer within ${timeoutMs} ms`
      : exchange.failure === 'unreachable'
        ? `Twilio API unreachable (${exchange.detail})`
        : `Twilio API connection lost before an answer (${exchange.detail})`;
  return new TwilioApiError(message, exchange.failure, undefined, undefined);
}

/** Twilio's error body `{code, message, more_info, status}` when readable, else the status alone. */
function refusedError(exchange: Extract<RestExchange, { kind: 'answered' }>): TwilioApiError {
  const body = isObject(exchange.body) ? exchange.body : {};
  const code = typeof body.code === 'number' && Number.isSafeInteger(body.code) ? body.code : undefined;
  const message =
    typeof body.message === 'string' && body.message.trim() !== ''
      ? body.message.slice(0, MAX_ERROR_MESSAGE_CHARS)
      : `Twilio answered HTTP ${exchange.status}`;
  return new TwilioApiError(message, 'refused', exchange.status, code);
}
