/**
 * TwiML documents, built with the twilio package's VoiceResponse (it escapes XML for us).
 */
import twilio from 'twilio';
import type { Unavailable } from '../call-registry.js';

const { VoiceResponse } = twilio.twiml;

export type CallDirection = 'inbound' | 'outbound';

export interface StreamTwimlInput {
  /** `wss://<PUBLIC_URL host>/twilio/stream/<token>`: no query string (Twilio drops it). */
  readonly streamUrl: string;
  readonly statusCallbackUrl: string;
  readonly token: string;
  readonly direction: CallDirection;
  /** The other party's number (From for inbound calls, To for outbound ones), when known. */
  readonly caller: string | undefined;
  /**
   * The call's assistant profile name: back in the stream's `start`, so an instance that did not
   * answer the webhook (no affinity) still gives the call its profile.
   */
  readonly assistant?: string | undefined;
}

/** Spoken when the stream ends from our side (upstream failure): Twilio runs what follows `<Connect>`. */
export const APOLOGY = 'Sorry, the assistant is not available right now. Please call again later. Goodbye.';

const UNAVAILABLE_WORDS: Record<Unavailable, string> = {
  capacity: 'Sorry, all of our lines are busy right now. Please call again in a few minutes. Goodbye.',
  draining: 'Sorry, we are restarting for maintenance. Please call back in a minute. Goodbye.',
  upstream_down: APOLOGY,
};

/** `<Connect><Stream>` with the token, direction, caller and assistant as `<Parameter>`s, then an apology. */
export function streamTwiml(input: StreamTwimlInput): string {
  const response = new VoiceResponse();
  const connect = response.connect();
  const stream = connect.stream({
    url: input.streamUrl,
    statusCallback: input.statusCallbackUrl,
    statusCallbackMethod: 'POST',
  });
  stream.parameter({ name: 'token', value: input.token });
  stream.parameter({ name: 'direction', value: input.direction });
  if (input.caller) stream.parameter({ name: 'caller', value: input.caller });
  if (input.assistant) stream.parameter({ name: 'assistant', value: input.assistant });
  // Reached only when the stream ends while the caller is still on the line: i.e. we ended it.
  response.say(APOLOGY);
  response.hangup();
  return response.toString();
}

/** Spoken refusal: a call we cannot serve hears why and is hung up, never an error page. */
export function unavailableTwiml(reason: Unavailable): string {
  const response = new VoiceResponse();
  response.say(UNAVAILABLE_WORDS[reason]);
  response.hangup();
  return response.toString();
}
