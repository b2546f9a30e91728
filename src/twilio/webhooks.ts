/**
 * Twilio webhooks: `/twilio/voice`, `/twilio/outbound` (TwiML that opens the Media Stream) and
 * `/twilio/stream-status` (the `<Stream statusCallback>`).
 *
 * Every one is signed (`X-Twilio-Signature` over PUBLIC_URL + path + form params); with
 * TWILIO_AUTH_TOKEN set, a missing or wrong signature gets 403 and no TwiML.
 */
import { sendError } from '../http-errors.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { CallRegistry } from '../call-registry.js';
import type { Assistant } from '../assistants/assistant.js';
import { isCallSid } from './call-sid.js';
import { streamUrl } from './stream-path.js';
import { mintStreamToken } from './stream-token.js';
import { requireWebhookSignature, type OnBadSignature } from './signature.js';
import { streamTwiml, unavailableTwiml, type CallDirection } from './twiml.js';

export type FormBody = Record<string, string>;

/** A call whose stream TwiML is about to be served. */
export interface WebhookCall {
  readonly callSid: string;
  readonly direction: CallDirection;
  /** The called number (Twilio's `To`): for an inbound call, the number that picks its profile. */
  readonly to: string | undefined;
}

export interface TwimlServedEvent {
  readonly callSid: string;
  readonly direction: CallDirection;
  readonly token: string;
  /** The call's profile (what a pre-warm configures the upstream with). */
  readonly assistant: Assistant;
}

export interface WebhookOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  readonly now: () => number;
  /** Told when a signature fails, so the guard can penalise the source (flood rule, cooldown). */
  readonly onBadSignature?: OnBadSignature;
  /** The call's assistant profile, resolved once per call (call control keeps it for the stream). */
  readonly assistantFor: (call: WebhookCall) => Assistant;
  /** Told after stream TwiML is served (pre-warm hooks in here). */
  readonly onTwimlServed?: (event: TwimlServedEvent) => void;
}

export function registerWebhooks(app: FastifyInstance, opts: WebhookOptions): void {
  const { config, registry } = opts;

  const signatureOk = (request: FastifyRequest, reply: FastifyReply): boolean =>
    requireWebhookSignature(config, request, reply, opts.onBadSignature);

  const streamWebhook = (direction: CallDirection) =>
    function handler(request: FastifyRequest, reply: FastifyReply): void {
      if (!signatureOk(request, reply)) return;
      const body = (request.body ?? {}) as FormBody;
      const callSid = body.CallSid;
      if (!isCallSid(callSid)) {
        void sendError(reply, 400, 'missing_call_sid', 'CallSid is required');
        return;
      }
      const log = request.log.child({ callSid });
      // Twilio signatures carry no timestamp, so a captured webhook can be replayed: for a call
      // that is already streaming, mint nothing (its stream would get 409 anyway) and open no
      // pre-warmed upstream session for it.
      if (registry.isStreaming(callSid)) {
        log.warn({ direction }, 'webhook for a call that is already streaming refused (a replayed request?)');
        void sendError(reply, 409, 'call_live');
        return;
      }
      const unavailable = registry.canServeNewCall();
      if (unavailable) {
        log.warn({ reason: unavailable, direction }, 'call refused with spoken TwiML');
        void reply.type('text/xml').send(unavailableTwiml(unavailable));
        return;
      }
      const token = mintStreamToken(config.streamSecret, callSid, opts.now(), config.streamTokenTtlSeconds);
      const caller = direction === 'inbound' ? body.From : body.To;
      const assistant = opts.assistantFor({ callSid, direction, to: body.To });
      log.info({ direction, assistant: assistant.name }, 'serving stream TwiML');
      void reply.type('text/xml').send(
        streamTwiml({
          streamUrl: streamUrl(config, token),
          statusCallbackUrl: `${config.publicUrl}/twilio/stream-status`,
          token,
          direction,
          caller,
          assistant: assistant.name,
        }),
      );
      opts.onTwimlServed?.({ callSid, direction, token, assistant });
    };

  app.post('/twilio/voice', streamWebhook('inbound'));
  app.post('/twilio/outbound', streamWebhook('outbound'));

  app.post('/twilio/stream-status', function streamStatus(request, reply): void {
    if (!signatureOk(request, reply)) return;
    const body = (request.body ?? {}) as FormBody;
    const event = body.StreamEvent;
    const fields = { callSid: body.CallSid, streamSid: body.StreamSid, event };
    if (event === 'stream-error') {
      // Twilio puts the error text in StreamError, usually starting with its code (e.g. 31920).
      const error = body.StreamError ?? '';
      const code = /\b(3\d{4})\b/.exec(error)?.[1] ?? body.ErrorCode;
      request.log.warn({ ...fields, twilioErrorCode: code, twilioError: error }, 'twilio reported a stream error');
    } else {
      request.log.info(fields, `twilio ${event ?? 'stream status'}`);
    }
    void reply.code(204).send();
  });
}
