import { describe, expect, it } from 'vitest';
import { STREAM_PATH, STREAM_ROUTE, connectedStreamUrlBase, streamUrl, streamUrlBase } from '../../src/twilio/stream-path.js';
import { maskUrl } from '../../src/log.js';

describe('stream path', () => {
  it('builds the public stream URL from PUBLIC_URL, ws for http and wss for https', () => {
    expect(STREAM_PATH).toBe('/twilio/stream');
    expect(STREAM_ROUTE).toBe('/twilio/stream/:token');
    expect(streamUrlBase({ publicUrl: 'https://voice.example.com' })).toBe('wss://voice.example.com/twilio/stream');
    expect(streamUrl({ publicUrl: 'https://voice.example.com' }, 'tok')).toBe('wss://voice.example.com/twilio/stream/tok');
    expect(streamUrl({ publicUrl: 'http://127.0.0.1:3000' }, 'tok')).toBe('ws://127.0.0.1:3000/twilio/stream/tok');
  });

  it('with INSTANCE_ID, the public stream URL carries /i/<id> before the stream path; the route does not', () => {
    const config = { publicUrl: 'https://voice.example.com', instanceId: 'b-2' };
    expect(streamUrlBase(config)).toBe('wss://voice.example.com/i/b-2/twilio/stream');
    expect(streamUrl(config, 'tok')).toBe('wss://voice.example.com/i/b-2/twilio/stream/tok');
    expect(streamUrl({ publicUrl: 'https://voice.example.com', instanceId: undefined }, 'tok')).toBe('wss://voice.example.com/twilio/stream/tok');
    expect(STREAM_ROUTE).toBe('/twilio/stream/:token'); // the proxy strips the prefix
  });

  it('checks signatures against the prefix the proxy stripped (another instance\'s after a fail-over), else its own', () => {
    const b = { publicUrl: 'https://voice.example.com', instanceId: 'b' };
    expect(connectedStreamUrlBase(b, '/i/a')).toBe('wss://voice.example.com/i/a/twilio/stream');
    expect(connectedStreamUrlBase(b, undefined)).toBe('wss://voice.example.com/i/b/twilio/stream');
    expect(connectedStreamUrlBase({ publicUrl: 'https://voice.example.com' }, undefined)).toBe('wss://voice.example.com/twilio/stream');
    // Only the INSTANCE_ID shape is taken from the header; anything else is ignored.
    for (const odd of ['/i/A', '/x/a', '/i/a/b', 'i/a', '/i/', ['/i/a', '/i/c']]) {
      expect(connectedStreamUrlBase(b, odd), String(odd)).toBe('wss://voice.example.com/i/b/twilio/stream');
    }
  });

  it('masks the token segment in logged URLs, and nothing else', () => {
    expect(maskUrl('/i/a/twilio/stream/abc_-123?x=1')).toBe('/i/a/twilio/stream/***?x=1');
    expect(maskUrl('/i/a/twilio/voice')).toBe('/i/a/twilio/voice');
    expect(maskUrl('/twilio/stream/abc_-123?x=1')).toBe('/twilio/stream/***?x=1');
    expect(maskUrl('/twilio/stream/abc/def')).toBe('/twilio/stream/***/def');
    expect(maskUrl('/twilio/stream/')).toBe('/twilio/stream/');
    expect(maskUrl('/twilio/streamX/abc')).toBe('/twilio/streamX/abc');
    expect(maskUrl('/twilio/voice')).toBe('/twilio/voice');
  });
});
