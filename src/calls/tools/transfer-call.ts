/**
 * `transfer_call` (declared only when TRANSFER_NUMBER is set): the assistant says a short
 * handoff, which plays out, then the live call is redirected through the REST API to
 * `<Dial>TRANSFER_NUMBER</Dial>` and the stream closed. If Twilio refuses, the model is told so
 * and the conversation goes on.
 */
import twilio from 'twilio';
import { TwilioApiError } from '../twilio-rest.js';
import { defineTool, parseReason, waitForPlayout, type CallTool } from './tool.js';

/** Longest we wait for the spoken handoff to play, in ms. */
export const HANDOFF_PLAYOUT_TIMEOUT_MS = 10_000;

/** `<Response><Dial>number</Dial></Response>`. */
export function dialTwiml(number: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.dial(number);
  return response.toString();
}

export function transferCallTool(transferNumber: string): CallTool {
  return defineTool<{ reason: string | undefined }>({
    name: 'transfer_call',
    description:
      'Transfer the caller to a human colleague. First tell the caller in one short sentence that you are ' +
      'transferring them, in the same turn: the transfer starts once that has played.',
    parameters: {
      type: 'object',
      properties: {
        reason: { type: 'string', description: 'Why the caller is transferred, for the log.' },
      },
      additionalProperties: false,
    },
    endsCall: true,
    parseArgs: parseReason,
    async run({ session, rest }, { reason }) {
      session.log.info({ reason }, 'assistant is transferring the call');
      await waitForPlayout(session, HANDOFF_PLAYOUT_TIMEOUT_MS);
      if (session.isClosed) return null;
      session.expectEnd('transferred');
      try {
        await rest.redirectCall(session.callSid, dialTwiml(transferNumber));
      } catch (err) {
        // Whatever went wrong, the call is still ours: the model is told and the talk goes on.
        // After a timeout or a broken connection Twilio may still redirect the call; then it
        // stops this stream itself, which ends the session as usual.
        session.expectEnd(null);
        session.log.error({ err }, transferFailureMessage(err));
        return {
          output: { ok: false, error: 'The transfer could not be started. Apologise and offer to help another way.' },
          respond: true,
        };
      }
      session.log.info({ transferTo: transferNumber }, 'call transferred');
      session.close('transferred');
      return null;
    },
  });
}

/** The log line for a failed redirect, by how it failed. */
function transferFailureMessage(err: unknown): string {
  if (!(err instanceof TwilioApiError)) return 'transfer failed';
  if (err.failure === 'refused') return 'transfer failed: Twilio refused the redirect';
  if (err.failure === 'unreachable') return 'transfer failed: Twilio API unreachable';
  return 'transfer not confirmed: no answer from Twilio (it may still redirect the call)';
}
