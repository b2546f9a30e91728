import { describe, expect, it } from 'vitest';
import { isCallSid, MAX_CALL_SID_LENGTH } from '../../src/twilio/call-sid.js';
import { MAX_TOKEN_LENGTH } from '../../src/twilio/stream-token.js';

describe('isCallSid', () => {
  it("accepts Twilio's CallSids and stand-ins' short alphanumeric ids", () => {
    expect(isCallSid('CA' + 'a1'.repeat(16))).toBe(true);
    expect(isCallSid('x')).toBe(true);
    expect(isCallSid('A'.repeat(MAX_CALL_SID_LENGTH))).toBe(true);
  });

  it('refuses anything else', () => {
    for (const value of ['', 'A'.repeat(MAX_CALL_SID_LENGTH + 1), 'CA-1', 'CA 1', 'CA1\n', 'CAé', '../x', undefined, null, 42, ['CA1']]) {
      expect(isCallSid(value), String(value)).toBe(false);
    }
  });

  it('bounds the stream token: header (6 bytes) + 64-byte sid + MAC (32 bytes), base64url', () => {
    expect(MAX_TOKEN_LENGTH).toBe(Math.ceil(((6 + 64 + 32) * 4) / 3));
  });
});
