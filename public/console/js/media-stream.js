// The Twilio Media Streams protocol as the browser speaks it: the messages Twilio sends the bridge
// (connected, start, media, mark echoes, stop), built exactly as Twilio lays them out, and the
// bridge's messages to it (media, mark, clear) read field by field. The bridge cannot tell the
// softphone from a phone call but for `direction: 'browser'` in the start's parameters.

/** 'MZ' + 32 hex digits, as Twilio's stream SIDs. */
export function newStreamSid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'MZ' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function connectedMessage() {
  return JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
}

export function startMessage({ streamSid, callSid, token }) {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      streamSid,
      callSid,
      tracks: ['inbound'],
      customParameters: { token, direction: 'browser', caller: 'browser' },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
    streamSid,
  });
}

/**
 * A media message in Twilio's key order, counters as decimal strings: the bridge reads this
 * layout in place (src/stream/twilio-media-scan.ts). Every value is digits, base64 or a SID.
 */
export function mediaMessage({ streamSid, sequenceNumber, chunk, timestamp, payload }) {
  return (
    `{"event":"media","sequenceNumber":"${sequenceNumber}","media":{"track":"inbound","chunk":"${chunk}",` +
    `"timestamp":"${timestamp}","payload":"${payload}"},"streamSid":"${streamSid}"}`
  );
}

export function markMessage({ streamSid, sequenceNumber, name }) {
  return JSON.stringify({ event: 'mark', sequenceNumber: String(sequenceNumber), streamSid, mark: { name } });
}

export function stopMessage({ streamSid, sequenceNumber, callSid }) {
  return JSON.stringify({ event: 'stop', sequenceNumber: String(sequenceNumber), streamSid, stop: { callSid } });
}

/** µ-law bytes → base64 (160 bytes a frame: no chunking needed). */
export function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return btoa(text);
}

export function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/**
 * One message from the bridge: `{kind: 'media', audio}`, `{kind: 'mark', name}`, `{kind: 'clear'}`,
 * or null for anything else (ignored, as Twilio ignores what it does not know).
 */
export function parseBridgeMessage(data) {
  if (typeof data !== 'string') return null;
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  if (message.event === 'media' && typeof message.media?.payload === 'string') {
    try {
      return { kind: 'media', audio: fromBase64(message.media.payload) };
    } catch {
      return null;
    }
  }
  if (message.event === 'mark' && typeof message.mark?.name === 'string') return { kind: 'mark', name: message.mark.name };
  if (message.event === 'clear') return { kind: 'clear' };
  return null;
}
