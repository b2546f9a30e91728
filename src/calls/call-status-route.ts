/**
 * `POST /twilio/call-status`: the StatusCallback of calls placed through `POST /calls`
 * (initiated, ringing, answered, completed; or busy, no-answer, failed, canceled). Signed like
 * every webhook: with TWILIO_AUTH_TOKEN set, a missing or wrong X-Twilio-Signature gets 403.
 * It logs progress and, when the call is over, drops what was kept for it (greeting, pre-warm).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { isCallSid } from '../twilio/call-sid.js';
import { requireWebhookSignature, type OnBadSignature } from '../twilio/signature.js';

/** Call statuses after which no stream can come. */
const FINAL_STATUSES = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
/** Final statuses that mean something went wrong rather than a normal outcome. */
const FAILED_STATUSES = new Set(['failed']);

export interface CallStatusRouteOptions {
  readonly config: Config;
  /** The call is over (any final status): forget its greeting, close its pre-warm. */
  readonly onCallOver: (callSid: string) => void;
  /** Told when a signature fails, so the guard can penalise the source (as webhooks.ts does). */
  readonly onBadSignature?: OnBadSignature;
}

export function registerCallStatusRoute(app: FastifyInstance, opts: CallStatusRouteOptions): void {
  const { config } = opts;
  app.post('/twilio/call-status', function callStatus(request, reply): void {
    if (!requireWebhookSignature(config, request, reply, opts.onBadSignature)) return;
    const body = (request.body ?? {}) as Record<string, string>;
    const callSid = isCallSid(body.CallSid) ? body.CallSid : undefined;
    const status = body.CallStatus ?? 'unknown';
    const fields = {
      callSid,
      callStatus: status,
      direction: body.Direction,
      callDurationSeconds: body.CallDuration === undefined ? undefined : Number(body.CallDuration),
      sipResponseCode: body.SipResponseCode,
      answeredBy: body.AnsweredBy,
      twilioErrorCode: body.ErrorCode,
    };
    if (FAILED_STATUSES.has(status)) request.log.warn(fields, `outbound call ${status}`);
    else request.log.info(fields, `outbound call ${status}`);
    if (callSid && FINAL_STATUSES.has(status)) opts.onCallOver(callSid);
    void reply.code(204).send();
  });
}
