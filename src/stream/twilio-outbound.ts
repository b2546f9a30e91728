/**
 * Messages we send to Twilio on a bidirectional `<Connect><Stream>`: media, mark, clear, each as
 * the JSON text of one WebSocket frame.
 */

/** Outbound `media`: µ-law bytes for Twilio to play, base64 in `media.payload`. */
export function mediaMessage(streamSid: string, audio: Buffer): string {
  // Built as text (base64 needs no escaping; the sid goes through JSON.stringify): a frame's
  // worth of JSON.stringify on the object costs more than the rest of sending it.
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${audio.toString('base64')}"}}`;
}

/** Outbound `mark`: Twilio echoes it back once all audio sent before it has played. */
export function markMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

/** Outbound `clear`: Twilio drops buffered audio and echoes every outstanding mark at once. */
export function clearMessage(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
