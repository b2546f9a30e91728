/**
 * µ-law audio fixtures and the arithmetic of 8 kHz G.711 (1 byte per sample, 8 bytes per ms).
 * Plain TypeScript without test-runner imports, so the demo, simulator and benchmarks can use it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** 8000 samples/s × 1 byte/sample (G.711 µ-law) = 8 bytes per millisecond. */
export const ULAW_BYTES_PER_MS = 8;
/** One Twilio media frame: 20 ms = 160 bytes. */
export const TWILIO_FRAME_BYTES = 160;
/** The bridge's aggregation unit (SPEC: 100 ms frames) = 800 bytes. */
export const AGGREGATE_FRAME_BYTES = 800;
/** µ-law encodes digital silence (linear 0) as 0xFF. */
export const ULAW_SILENCE_BYTE = 0xff;

export type FixtureName = 'caller-8k.ulaw' | 'agent-8k.ulaw';

/**
 * Where fixtures live: test/fixtures, found from this module when run from source (vitest,
 * type-stripping node), else `<cwd>/test/fixtures` (e.g. when this file runs compiled from dist/).
 */
function fixtureDirs(): string[] {
  return [fileURLToPath(new URL('../../test/fixtures/', import.meta.url)), join(process.cwd(), 'test', 'fixtures')];
}

export function fixturePath(name: FixtureName): string {
  for (const dir of fixtureDirs()) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`audio fixture ${name} not found in ${fixtureDirs().join(' or ')}`);
}

/** Reads a raw µ-law fixture. Each call returns a fresh Buffer, so callers may mutate it. */
export function readFixture(name: FixtureName): Buffer {
  return readFileSync(fixturePath(name));
}

export function bytesToMs(bytes: number): number {
  return bytes / ULAW_BYTES_PER_MS;
}

export function msToBytes(ms: number): number {
  return Math.round(ms * ULAW_BYTES_PER_MS);
}

/** `ms` of µ-law silence. */
export function silence(ms: number): Buffer {
  return Buffer.alloc(msToBytes(ms), ULAW_SILENCE_BYTE);
}

/**
 * Splits `buffer` into consecutive chunks of `size` bytes (the last one may be shorter).
 * Chunks are views (no copy); an empty buffer gives no chunks.
 */
export function chunkBuffer(buffer: Buffer, size: number): Buffer[] {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buffer.length; offset += size) {
    chunks.push(buffer.subarray(offset, Math.min(offset + size, buffer.length)));
  }
  return chunks;
}

/** The 20 ms (160-byte) frames Twilio would send for `buffer`. */
export function twilioFrames(buffer: Buffer): Buffer[] {
  return chunkBuffer(buffer, TWILIO_FRAME_BYTES);
}
