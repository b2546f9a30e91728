import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeStrictBase64, isJsonObject, NOT_JSON, parseJsonText } from '../../src/stream/peer-input.js';

describe('parseJsonText', () => {
  it('reads JSON from text or UTF-8 bytes, and says NOT_JSON for anything else', () => {
    expect(parseJsonText('{"a":1}')).toEqual({ a: 1 });
    expect(parseJsonText(Buffer.from('{"é":"ü"}'))).toEqual({ é: 'ü' });
    expect(parseJsonText('null')).toBeNull();
    expect(parseJsonText('{"a":')).toBe(NOT_JSON);
    expect(parseJsonText('')).toBe(NOT_JSON);
    expect(parseJsonText(Buffer.from([0xff, 0xfe]))).toBe(NOT_JSON);
  });

  it('knows objects from arrays and null', () => {
    expect(isJsonObject({})).toBe(true);
    for (const v of [null, [], 'x', 1, undefined]) expect(isJsonObject(v), String(v)).toBe(false);
  });
});

describe('decodeStrictBase64', () => {
  it('accepts canonical base64 and rejects what Buffer.from would silently accept', () => {
    expect(decodeStrictBase64('YWJj')).toEqual(Buffer.from('abc'));
    expect(decodeStrictBase64('YQ==')).toEqual(Buffer.from('a'));
    expect(Buffer.from('YW*Jj', 'base64').length).toBeGreaterThan(0); // the leniency being guarded against
    expect(decodeStrictBase64('YW*Jj')).toBeNull();
    expect(decodeStrictBase64('YWJ')).toBeNull();
    expect(decodeStrictBase64('YWJj_-==')).toBeNull(); // base64url is not Twilio's alphabet
    expect(decodeStrictBase64('YWJ-')).toBeNull();
    expect(Buffer.from('ŁWJj', 'base64')).toEqual(Buffer.from('AWJj', 'base64')); // Node reads U+0141 as 'A'
    expect(decodeStrictBase64('ŁWJj')).toBeNull();
    expect(decodeStrictBase64('YQ=a')).toBeNull();
    expect(decodeStrictBase64('YQ==YWJj')).toBeNull();
  });

  it('accepts exactly the strings of the strict alphabet with at most two trailing =, length a multiple of 4', () => {
    const strict = (t: string) => t.length > 0 && t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t);
    const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const valid = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a).toString('base64'));
    // One code unit replaced or inserted anywhere in valid base64: every near miss.
    const nearMiss = fc
      .tuple(valid, fc.nat(), anyCodeUnit, fc.boolean())
      .map(([t, i, c, insert]) => t.slice(0, i % (t.length + 1)) + c + t.slice((i % (t.length + 1)) + (insert ? 0 : 1)));
    fc.assert(
      fc.property(fc.oneof(valid, nearMiss, fc.string({ unit: anyCodeUnit, maxLength: 12 })), (text) => {
        const decoded = decodeStrictBase64(text);
        expect(decoded !== null).toBe(strict(text));
        if (decoded) expect(decoded).toEqual(Buffer.from(text, 'base64'));
      }),
      { numRuns: 5_000 },
    );
  });
});
