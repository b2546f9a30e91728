/**
 * `POST /calls`: place an outbound call. `Authorization: Bearer $API_TOKEN` (compared in constant
 * time); the route does not exist (404) while API_TOKEN is unset. JSON
 * `{ "to", "greeting"?, "assistant"?, "instructions"? }` → 200 `{ "callSid" }`; the call's profile
 * (with the override applied) and greeting are kept for its stream (calls/pending-calls.ts). Every other answer says whether a call was placed, so a client knows
 * whether retrying could call twice:
 * - 202 `{ status: 'placed', callSid: null, detail }`: Twilio accepted (2xx) but its reply could
 *   not be read. Placed; do not retry.
 * - 502 `twilio_error`: Twilio refused (its HTTP status, code and message). Not placed.
 * - 502 `twilio_unreachable`: no connection to Twilio. Not placed.
 * - 502 `twilio_no_answer`: no answer within TWILIO_REST_TIMEOUT_MS, or the connection broke
 *   after the request went out. It may have been placed: check before retrying.
 * - 500 `internal`: a bug of ours; a generic message, the detail only in the log.
 *
 * Twilio fetches PUBLIC_URL/twilio/outbound when the callee answers (TwiML that opens the
 * stream) and posts call progress to PUBLIC_URL/twilio/call-status.
 */
import { sendError } from '../http-errors.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { requireBearer } from '../bearer-hook.js';
import type { CallRegistry, Unavailable } from '../call-registry.js';
import type { Assistants } from '../assistants/assistant.js';
import { MAX_GREETING_CHARS, MAX_OVERRIDE_INSTRUCTIONS_CHARS, parseCallRequest } from './call-request.js';
import { PLACED_CALL_TTL_MS, type PendingCalls } from './pending-calls.js';
import { missingRestSettings, type TwilioRest } from './twilio-rest.js';

/** Most bytes JSON spends on one UTF-16 unit: `\uXXXX` (some clients escape all non-ASCII). */
const JSON_BYTES_PER_CHAR = 6;
/**
 * Largest body, in bytes: a longest `"instructions"` override and greeting written with every
 * character escaped (6 × (8 000 + 500) = 51 000), plus 4 KiB for the rest: ~55 KB. Longer is junk.
 */
export const CALLS_BODY_LIMIT_BYTES = JSON_BYTES_PER_CHAR * (MAX_OVERRIDE_INSTRUCTIONS_CHARS + MAX_GREETING_CHARS) + 4 * 1024;
/**
 * The 202 answer's `detail`: Twilio answered 2xx to the create request (so the call is placed)
 * but its body could not be read (not JSON, no sid, cut off).
 */
export const PLACED_UNREADABLE_DETAIL = 'Twilio accepted the call but its reply could not be read';
/** Retry-After on 503 when every call slot is taken, in seconds. */
const CAPACITY_RETRY_AFTER_SECONDS = 30;

/**
 * 503 for a call the registry will not take now (capacity, draining, upstream down), with
 * Retry-After when it is only full; `doing` names what was refused ("placing calls").
 */
export function sendUnavailable(reply: FastifyReply, unavailable: Unavailable, doing: string): FastifyReply {
  if (unavailable === 'capacity') void reply.header('Retry-After', String(CAPACITY_RETRY_AFTER_SECONDS));
  return sendError(reply, 503, unavailable, `not ${doing} right now (${unavailable})`);
}

export interface CallsRouteOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  readonly rest: TwilioRest | null;
  /** Where a placed call's profile and greeting wait for its stream. */
  readonly pending: PendingCalls;
  /** The profiles in force now (`"assistant"` names one of them). */
  readonly profiles: () => Assistants;
  /** Wall clock, ms (pending-call expiry). */
  readonly now: () => number;
  /** Told when a wrong API token is presented, so the guard can put the source in a cooldown. */
  readonly onBadToken?: (request: FastifyRequest) => void;
}

export function registerCallsRoute(app: FastifyInstance, opts: CallsRouteOptions): void {
  const { config, registry, rest, pending } = opts;
  if (!config.apiToken) return; // disabled: POST /calls answers 404
  const apiToken = config.apiToken;

  /** onRequest: runs before the body is read, so an unauthenticated request costs no parsing. */
  const authorize = requireBearer({ token: apiToken, onBadToken: opts.onBadToken });

  app.post(
    '/calls',
    { bodyLimit: CALLS_BODY_LIMIT_BYTES, onRequest: authorize, errorHandler: bodyErrorHandler },
    async function placeCall(request, reply) {
      const contentType = request.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(contentType)) {
        return sendError(reply, 415, 'not_json', 'send a JSON body (Content-Type: application/json)');
      }
      const profiles = opts.profiles();
      const verdict = parseCallRequest(request.body, profiles);
      if (!verdict.ok) return sendError(reply, 400, 'invalid_body', verdict.message);
      const missing = [...missingRestSettings(config), ...(config.twilioPhoneNumber ? [] : ['TWILIO_PHONE_NUMBER'])];
      if (!rest || missing.length > 0) {
        request.log.error({ missing }, 'POST /calls: Twilio REST settings missing');
        return sendError(reply, 503, 'not_configured', `set ${missing.join(', ')} to place calls`);
      }
      const unavailable = registry.canServeNewCall();
      if (unavailable) return sendUnavailable(reply, unavailable, 'placing calls');
      const { to, greeting } = verdict.request;
      // parseCallRequest resolves a profile whenever it is given profiles.
      const assistant = verdict.request.assistant ?? profiles.default;
      const outcome = await rest.placeCall({
        to,
        from: config.twilioPhoneNumber!,
        url: `${config.publicUrl}/twilio/outbound`,
        statusCallback: `${config.publicUrl}/twilio/call-status`,
      });
      if (outcome.kind === 'placed') {
        const { callSid } = outcome;
        pending.set(callSid, { assistant, greeting }, opts.now(), PLACED_CALL_TTL_MS);
        request.log.info(
          { callSid, to: maskNumber(to), assistant: assistant.name, greeting: greeting !== undefined, instructions: assistant !== profiles.byName[assistant.name] },
          'outbound call placed',
        );
        return reply.code(200).send({ callSid });
      }
      if (outcome.kind === 'placed_unconfirmed') {
        // Twilio said yes: the phone will ring. Reporting a failure would make a client retry
        // and call twice; without a CallSid the per-call greeting and profile cannot be attached
        // (the call gets the default profile).
        request.log.warn(
          {
            to: maskNumber(to),
            twilioStatus: outcome.status,
            problem: outcome.problem,
            greetingDropped: greeting !== undefined,
            assistantDropped: assistant !== profiles.default,
          },
          'outbound call placed, but Twilio\'s reply could not be read (no CallSid)',
        );
        return reply.code(202).send({ status: 'placed', callSid: null, detail: PLACED_UNREADABLE_DETAIL });
      }
      const { error } = outcome;
      const fields = { to: maskNumber(to), failure: error.failure, twilioStatus: error.status, twilioCode: error.code, twilioMessage: error.message };
      if (error.failure === 'refused') {
        request.log.warn(fields, 'Twilio refused to place the call');
        return reply.code(502).send({
          error: 'Bad Gateway',
          reason: 'twilio_error',
          twilioStatus: error.status ?? null,
          code: error.code ?? null,
          message: error.message,
        });
      }
      request.log.error(fields, error.mayHaveActed ? 'Twilio did not answer: the call may have been placed' : 'Twilio API unreachable: no call placed');
      return reply.code(502).send({
        error: 'Bad Gateway',
        reason: error.mayHaveActed ? 'twilio_no_answer' : 'twilio_unreachable',
        twilioStatus: null,
        code: null,
        message: error.mayHaveActed
          ? `${error.message}; the call may have been placed: check before retrying`
          : `${error.message}; no call was placed`,
      });
    },
  );
}

/**
 * Body problems found by Fastify before the handler (bad JSON, too large) as our error shape;
 * anything else thrown on this route is ours: 500 with a generic message, the detail in the log.
 */
function bodyErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.code === 'string' && error.code.startsWith('FST_ERR_CTP_') ? (error.statusCode ?? 500) : 500;
  if (status === 400) {
    void sendError(reply, 400, 'invalid_json', `the body is not valid JSON (${error.message})`);
  } else if (status === 413) {
    void sendError(reply, 413, 'body_too_large', `the body must be at most ${CALLS_BODY_LIMIT_BYTES} bytes`);
  } else if (status === 415) {
    void sendError(reply, 415, 'not_json', 'send a JSON body (Content-Type: application/json)');
  } else {
    request.log.error({ err: error }, 'POST /calls failed');
    void sendError(reply, 500, 'internal', 'internal error; the details are in the server log');
  }
}

/** +15551234567 → +1555***4567: enough to tell calls apart in a log, not a whole number. */
export function maskNumber(number: string): string {
  if (number.length <= 8) return number.slice(0, 2) + '***';
  return number.slice(0, 5) + '***' + number.slice(-4);
}
