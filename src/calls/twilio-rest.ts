/**
 * Twilio's REST API, through the twilio package's client: place a call, hang one up, redirect one.
 *
 * Every request goes to TWILIO_API_BASE_URL (default https://api.twilio.com), so a
 * Twilio-compatible endpoint or a local stand-in can answer. The package has no base-URL option;
 * its documented extension point is a custom `httpClient`, so we subclass its own RequestClient
 * and only swap the origin of each URI (keeping its auth, form encoding and error handling).
 */
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type { ClientOpts } from 'twilio/lib/base/BaseTwilio.js';
import type { Config } from '../config.js';

/** One REST request may take this long before it fails, in ms (the package's default is 30 s). */
export const TWILIO_REST_TIMEOUT_MS = 10_000;
/** Twilio's error code for "the requested resource was not found" (a call that already ended). */
export const TWILIO_NOT_FOUND_CODE = 20404;
/** The origin the package addresses; requests to it are re-pointed at TWILIO_API_BASE_URL. */
const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/** A failed REST request: Twilio's HTTP status, error code and message (none when unreachable). */
export class TwilioApiError extends Error {
  override readonly name = 'TwilioApiError';
  constructor(
    message: string,
    /** HTTP status Twilio answered with; undefined when no answer came (network, timeout). */
    readonly status: number | undefined,
    /** Twilio's error code, e.g. 21211 (invalid To number). */
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

export interface PlaceCallInput {
  readonly to: string;
  readonly from: string;
  /** Fetched by Twilio when the callee answers: our `/twilio/outbound` webhook. */
  readonly url: string;
  /** Call progress (initiated, ringing, answered, completed) is posted here. */
  readonly statusCallback: string;
}

/** What call control needs from Twilio's REST API. */
export interface TwilioRest {
  placeCall(input: PlaceCallInput): Promise<{ callSid: string }>;
  /** Hangs up (Status=completed); a call that already ended is not an error. */
  completeCall(callSid: string): Promise<'completed' | 'already_ended'>;
  /** Replaces the live call's instructions with `twiml` (e.g. a <Dial> to transfer it). */
  redirectCall(callSid: string, twiml: string): Promise<void>;
}

/** The package's RequestClient, sending to another origin (same path, query and body). */
class BaseUrlRequestClient extends twilio.RequestClient {
  readonly #origin: string;
  constructor(origin: string) {
    super({ timeout: TWILIO_REST_TIMEOUT_MS });
    this.#origin = origin;
  }
  // Return type inferred: the package's Response type is not importable from ESM by name.
  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const url = new URL(opts.uri);
    const target = new URL(url.pathname + url.search, this.#origin);
    return super.request<TData>({ ...opts, uri: target.toString() });
  }
}

/** Which REST settings are missing (empty when REST calls can be made). */
export function missingRestSettings(config: Pick<Config, 'twilioAccountSid' | 'twilioAuthToken'>): string[] {
  const missing: string[] = [];
  if (!config.twilioAccountSid) missing.push('TWILIO_ACCOUNT_SID');
  if (!config.twilioAuthToken) missing.push('TWILIO_AUTH_TOKEN');
  return missing;
}

/** The REST client, or null when TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set. */
export function createTwilioRest(
  config: Pick<Config, 'twilioAccountSid' | 'twilioAuthToken' | 'twilioApiBaseUrl'>,
): TwilioRest | null {
  if (!config.twilioAccountSid || !config.twilioAuthToken) return null;
  const origin = new URL(config.twilioApiBaseUrl).origin;
  // The default origin needs no rewrite; anything else goes through our client. No automatic
  // retries: a placed call must not be placed twice, and callers log every outcome themselves.
  const options: ClientOpts =
    origin === TWILIO_API_ORIGIN
      ? { timeout: TWILIO_REST_TIMEOUT_MS, autoRetry: false }
      : { httpClient: new BaseUrlRequestClient(origin), autoRetry: false };
  const client = twilio(config.twilioAccountSid, config.twilioAuthToken, options);

  return {
    async placeCall(input) {
      try {
        const call = await client.calls.create({
          to: input.to,
          from: input.from,
          url: input.url,
          method: 'POST',
          statusCallback: input.statusCallback,
          statusCallbackMethod: 'POST',
          statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        });
        return { callSid: call.sid };
      } catch (err) {
        throw toApiError(err);
      }
    },
    async completeCall(callSid) {
      try {
        await client.calls(callSid).update({ status: 'completed' });
        return 'completed';
      } catch (err) {
        const error = toApiError(err);
        if (error.status === 404 || error.code === TWILIO_NOT_FOUND_CODE) return 'already_ended';
        throw error;
      }
    },
    async redirectCall(callSid, twiml) {
      try {
        await client.calls(callSid).update({ twiml });
      } catch (err) {
        throw toApiError(err);
      }
    },
  };
}

/** Twilio's RestException (status, code, message), or a transport failure, as a TwilioApiError. */
export function toApiError(err: unknown): TwilioApiError {
  if (err instanceof TwilioApiError) return err;
  if (err instanceof twilio.RestException || isRestExceptionLike(err)) {
    const { status, code, message } = err as { status: number; code?: unknown; message?: unknown };
    return new TwilioApiError(
      typeof message === 'string' && message !== '' ? message : `Twilio answered HTTP ${status}`,
      status,
      typeof code === 'number' ? code : undefined,
    );
  }
  const detail = err instanceof Error ? ((err as { code?: unknown }).code ?? err.message) : String(err);
  return new TwilioApiError(`Twilio API unreachable (${String(detail)})`, undefined, undefined);
}

function isRestExceptionLike(err: unknown): boolean {
  return err instanceof Error && typeof (err as { status?: unknown }).status === 'number' && 'moreInfo' in err;
}
