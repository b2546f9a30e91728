/**
 * Reading one field of a Twilio Media Streams message: its value, typed, or a ShapeError that the
 * parser (twilio-protocol.ts) turns into the `bad_shape` verdict.
 */
import { isJsonObject as isObj, type JsonObject as Obj } from './peer-input.js';
import type { MediaFormat } from './twilio-protocol.js';

/** Longest decimal counter accepted ("1", "42" as Twilio sends them): 15 digits keeps it a safe integer. */
const MAX_COUNTER_DIGITS = 15;

/** Signals a shape problem from deep inside a field reader; caught only by the parser (twilio-protocol.ts). */
export class ShapeError extends Error {}

export function objField(o: Obj, key: string): Obj {
  const v = o[key];
  if (!isObj(v)) throw new ShapeError(key);
  return v;
}

export function str(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new ShapeError(key);
  return v;
}

export function optStr(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ShapeError(key);
  return v;
}

/** Marks a counter field that is present but not a counter (see countValue). */
export const NOT_A_COUNT = -1;

/**
 * A non-negative integer sent as a decimal string (as Twilio does) or as a JSON number;
 * undefined when absent, NOT_A_COUNT when present but neither. A loop, not a regex: it runs three
 * times per media frame.
 */
export function countValue(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    const n = v.length;
    if (n === 0 || n > MAX_COUNTER_DIGITS) return NOT_A_COUNT;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 48 /* 0 */ || c > 57 /* 9 */) return NOT_A_COUNT;
    }
    return Number(v);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  return NOT_A_COUNT;
}

export function optCount(o: Obj, key: string): number | undefined {
  const v = countValue(o[key]);
  if (v === NOT_A_COUNT) throw new ShapeError(key);
  return v;
}

export function stringRecord(o: Obj, key: string): Readonly<Record<string, string>> {
  const v = o[key];
  if (v === undefined) return {};
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string')) throw new ShapeError(key);
  // JSON.parse made `v`, so `__proto__` is an own data key here, not the prototype.
  return v as Record<string, string>;
}

export function optMediaFormat(o: Obj): MediaFormat | undefined {
  const v = o.mediaFormat;
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new ShapeError('mediaFormat');
  const { encoding, sampleRate, channels } = v;
  if (typeof encoding !== 'string' || typeof sampleRate !== 'number' || typeof channels !== 'number') {
    throw new ShapeError('mediaFormat');
  }
  return { encoding, sampleRate, channels };
}

export function optTracks(o: Obj): readonly string[] | undefined {
  const v = o.tracks;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((t) => typeof t === 'string')) throw new ShapeError('tracks');
  return v as string[];
}
