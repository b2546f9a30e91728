import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { checkStreamCredentials, streamTokenOf, tokenId } from '../../src/guard/credentials.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';

const secret = 'x'.repeat(40);
const authToken = 'auth-token-0123456789';
const base = 'wss://voice.example.com/twilio/stream';
const now = 1_750_000_000_000;
const token = mintStreamToken(secret, 'CA0123', now, 300);
const input = { streamSecret: secret, twilioAuthToken: authToken, streamUrlBase: base, token, signature: undefined, now };

describe('streamTokenOf', () => {
  it('finds the token segment, ignoring a query string', () => {
    expect(streamTokenOf('/twilio/stream/abc', '/twilio/stream')).toBe('abc');
    expect(streamTokenOf('/twilio/stream/abc?x=1', '/twilio/stream')).toBe('abc');
    expect(streamTokenOf('/twilio/stream/', '/twilio/stream')).toBe('');
    expect(streamTokenOf('/twilio/stream', '/twilio/stream')).toBe('');
    expect(streamTokenOf('/twilio/streams/abc', '/twilio/stream')).toBeUndefined();
    expect(streamTokenOf('/healthz', '/twilio/stream')).toBeUndefined();
    expect(streamTokenOf('/twilio/stream/a/b', '/twilio/stream')).toBe('a/b'); // then refused as malformed
  });
});

describe('checkStreamCredentials', () => {
  it('accepts a valid token with no signature header', () => {
    expect(checkStreamCredentials(input)).toEqual({ ok: true, callSid: 'CA0123', expiresAt: Math.floor(now / 1000) + 300 });
  });

  it('names what is wrong', () => {
    expect(checkStreamCredentials({ ...input, token: '' })).toEqual({ ok: false, reason: 'missing_token' });
    expect(checkStreamCredentials({ ...input, token: 'junk' })).toEqual({ ok: false, reason: 'bad_token' });
    expect(checkStreamCredentials({ ...input, token: mintStreamToken('y'.repeat(40), 'CA0123', now, 300) })).toEqual({
      ok: false,
      reason: 'bad_token',
    });
    expect(checkStreamCredentials({ ...input, now: now + 300_000 })).toEqual({ ok: false, reason: 'expired_token' });
  });

  it('refuses other spellings of the same bytes', () => {
    expect(checkStreamCredentials({ ...input, token: token + 'A' })).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('checks a signature when one is sent, over the public wss:// URL with no params', () => {
    const good = twilio.getExpectedTwilioSignature(authToken, `${base}/${token}`, {});
    expect(checkStreamCredentials({ ...input, signature: good }).ok).toBe(true);
    expect(checkStreamCredentials({ ...input, signature: good + 'x' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(checkStreamCredentials({ ...input, signature: [good, good] })).toEqual({ ok: false, reason: 'bad_signature' });
    // Signed for another host (a Host-header trick) does not pass.
    const otherHost = twilio.getExpectedTwilioSignature(authToken, `wss://evil.example/twilio/stream/${token}`, {});
    expect(checkStreamCredentials({ ...input, signature: otherHost })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('without TWILIO_AUTH_TOKEN, a signature cannot be checked and is ignored', () => {
    expect(checkStreamCredentials({ ...input, twilioAuthToken: undefined, signature: 'anything' }).ok).toBe(true);
  });
});

describe('tokenId', () => {
  it('keys single use on what the token proves, hashed', () => {
    expect(tokenId('CA0123', 1)).toBe(tokenId('CA0123', 1));
    expect(tokenId('CA0123', 1)).not.toBe(tokenId('CA0123', 2));
    expect(tokenId('CA0123', 1)).not.toContain('CA0123');
  });
});
