import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bearer, hasBearer, sameSecret } from '../src/bearer.js';

describe('bearer credentials', () => {
  it('parses Bearer credentials and nothing else', () => {
    expect(bearer('Bearer abc')).toBe('abc');
    expect(bearer('bearer   abc ')).toBe('abc');
    expect(bearer('Bearer')).toBeNull();
    expect(bearer('Bearer a b')).toBeNull();
    expect(bearer('Basic abc')).toBeNull();
    expect(bearer('abc')).toBeNull();
    expect(bearer(undefined)).toBeNull();
    expect(bearer(['Bearer abc', 'Bearer abc'])).toBeNull(); // a repeated header is no credential
  });

  it('compares secrets of any length exactly', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(sameSecret(a, b)).toBe(a === b);
        expect(sameSecret(a, a)).toBe(true);
      }),
    );
  });

  it('accepts exactly the expected token, and nothing when none is expected', () => {
    expect(hasBearer('Bearer s3cret', 's3cret')).toBe(true);
    expect(hasBearer('bearer s3cret ', 's3cret')).toBe(true);
    expect(hasBearer('Bearer s3cre', 's3cret')).toBe(false);
    expect(hasBearer('Bearer s3cret', undefined)).toBe(false);
    expect(hasBearer(undefined, 's3cret')).toBe(false);
    expect(hasBearer('s3cret', 's3cret')).toBe(false);
  });
});
