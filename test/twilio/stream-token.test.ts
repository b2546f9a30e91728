import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_TOKEN_LENGTH, mintStreamToken, verifyStreamToken } from '../../src/twilio/stream-token.js';
import { TEST_SECRET } from '../helpers/config.js';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';
const NOW = 1_790_000_000_000;

describe('stream tokens', () => {
  it('round-trips the CallSid and expiry', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    expect(verifyStreamToken(TEST_SECRET, token, NOW)).toEqual({
      ok: true,
      callSid: CALL_SID,
      expiresAt: Math.floor(NOW / 1000) + 300,
    });
    expect(token).not.toContain(TEST_SECRET);
  });

  it('expires at the TTL, not a second later', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    expect(verifyStreamToken(TEST_SECRET, token, NOW + 299_000).ok).toBe(true);
    expect(verifyStreamToken(TEST_SECRET, token, NOW + 300_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('binds the CallSid: swapping it in the token breaks the MAC', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    const raw = Buffer.from(token, 'base64url');
    raw.write('CB', 6, 'latin1');
    expect(verifyStreamToken(TEST_SECRET, raw.toString('base64url'), NOW)).toEqual({ ok: false, reason: 'forged' });
  });

  it('refuses a token minted for another CallSid under another secret', () => {
    const token = mintStreamToken('another-secret-that-is-long-enough-000000', CALL_SID, NOW, 300);
    expect(verifyStreamToken(TEST_SECRET, token, NOW)).toEqual({ ok: false, reason: 'forged' });
  });

  it('refuses a longer expiry written into the token', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    const raw = Buffer.from(token, 'base64url');
    raw.writeUInt32BE(raw.readUInt32BE(1) + 86_400, 1);
    expect(verifyStreamToken(TEST_SECRET, raw.toString('base64url'), NOW)).toEqual({ ok: false, reason: 'forged' });
  });

  it('accepts only the canonical spelling', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    expect(Buffer.from(token + 'x', 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
    expect(verifyStreamToken(TEST_SECRET, token + 'x', NOW)).toEqual({ ok: false, reason: 'malformed' });
    const last = token.at(-1)!;
    const sibling = token.slice(0, -1) + (last === 'A' ? 'B' : String.fromCharCode(last.charCodeAt(0) ^ 1));
    expect(verifyStreamToken(TEST_SECRET, sibling, NOW).ok).toBe(false);
  });

  it('detects any single flipped bit', () => {
    const token = mintStreamToken(TEST_SECRET, CALL_SID, NOW, 300);
    const length = Buffer.from(token, 'base64url').length;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: length * 8 - 1 }), (bit) => {
        const raw = Buffer.from(token, 'base64url');
        raw[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyStreamToken(TEST_SECRET, raw.toString('base64url'), NOW).ok).toBe(false);
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['huge', 'A'.repeat(100_000)],
    ['not base64url', 'abc+/def=='],
    ['spaces', 'abc def'],
    ['too short', 'AQ'],
    ['a number', 42],
    ['undefined', undefined],
  ])('returns malformed for %s input without throwing', (_name, input) => {
    expect(verifyStreamToken(TEST_SECRET, input, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(verifyStreamToken(TEST_SECRET, s, NOW).ok).toBe(false);
      }),
    );
  });

  it('refuses to mint for an invalid CallSid', () => {
    expect(() => mintStreamToken(TEST_SECRET, '', NOW, 300)).toThrow(TypeError);
    expect(() => mintStreamToken(TEST_SECRET, 'CA<script>', NOW, 300)).toThrow(TypeError);
  });
});
