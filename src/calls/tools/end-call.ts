/**
 * `end_call`: the assistant hangs up. Its goodbye plays out first (a mark after the pending
 * audio, echoed by Twilio once heard), then the call is completed through the REST API and the
 * stream closed. Completing first matters: closing the stream alone would make Twilio run the
 * TwiML after <Connect> (the "not available" apology). A browser call (the console's softphone)
 * has no Twilio call: its stream is simply closed.
 */
import { defineTool, parseReason, waitForPlayout } from './tool.js';
import { isBrowserCallSid } from '../../twilio/call-sid.js';

/** Longest we wait for the goodbye to play, in ms: model audio arrives faster than real time, so
 * a few seconds of it can still be queued at Twilio when the tool call comes. */
export const GOODBYE_PLAYOUT_TIMEOUT_MS = 10_000;

export const endCallTool = defineTool<{ reason: string | undefined }>({
  name: 'end_call',
  description:
    'Hang up the phone call. Use it when the conversation is finished or the caller asks to end the call. ' +
    'Say a short goodbye first, in the same turn: the call ends once your goodbye has played.',
  parameters: {
    type: 'object',
    properties: {
      reason: { type: 'string', description: 'Why the call is ending, for the log (e.g. "caller said goodbye").' },
    },
    additionalProperties: false,
  },
  endsCall: true,
  parseArgs: parseReason,
  async run({ session, rest }, { reason }) {
    session.log.info({ reason }, 'assistant is ending the call');
    const playout = await waitForPlayout(session, GOODBYE_PLAYOUT_TIMEOUT_MS);
    if (session.isClosed) return null; // the caller hung up first
    if (playout === 'timeout') session.log.warn({ timeoutMs: GOODBYE_PLAYOUT_TIMEOUT_MS }, 'goodbye not confirmed as played; hanging up anyway');
    session.expectEnd('ended_by_assistant');
    if (isBrowserCallSid(session.callSid)) {
      session.close('ended_by_assistant');
      return null;
    }
    try {
      const outcome = await rest.completeCall(session.callSid);
      session.log.info({ outcome }, 'call completed through the REST API');
    } catch (err) {
      // Refused, unreachable or no answer in time (TWILIO_REST_TIMEOUT_MS): the stream still
      // closes, and Twilio then plays the closing TwiML and hangs up itself.
      session.log.warn({ err }, 'could not complete the call through the REST API; closing the stream');
    }
    session.close('ended_by_assistant');
    return null;
  },
});
