import { describe, expect, it } from 'vitest';
import { STREAM_PATH, STREAM_ROUTE, streamUrl, streamUrlBase } from '../../src/twilio/stream-path.js';
import { maskUrl } from '../../src/log.js';

describe('stream path', () => {
  it('builds the public stream URL from PUBLIC_URL, ws for http and wss for https', () => {
    expect(STREAM_PATH).toBe('/twilio/stream');
    expect(STREAM_ROUTE).toBe('/twilio/stream/:token');
    expect(streamUrlBase({ publicUrl: 'https://voice.example.com' })).toBe('wss://voice.example.com/twilio/stream');
    expect(streamUrl({ publicUrl: 'https://voice.example.com' }, 'tok')).toBe('wss://voice.example.com/twilio/stream/tok');
    expect(streamUrl({ publicUrl: 'http://127.0.0.1:3000' }, 'tok')).toBe('ws://127.0.0.1:3000/twilio/stream/tok');
  });

  it('masks the token segment in logged URLs, and nothing else', () => {
    expect(maskUrl('/twilio/stream/abc_-123?x=1')).toBe('/twilio/stream/***?x=1');
    expect(maskUrl('/twilio/stream/abc/def')).toBe('/twilio/stream/***/def');
    expect(maskUrl('/twilio/stream/')).toBe('/twilio/stream/');
    expect(maskUrl('/twilio/streamX/abc')).toBe('/twilio/streamX/abc');
    expect(maskUrl('/twilio/voice')).toBe('/twilio/voice');
  });
});
