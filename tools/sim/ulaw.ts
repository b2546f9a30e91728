/**
 * G.711 µ-law arithmetic the simulator needs: loudness of a frame (for the stand-in's voice
 * activity detection) and near-silent "stamps" that carry a sequence number through the bridge
 * (for latency measurements). Pure functions, no I/O.
 */

/** Linear magnitude (0…32124) of each µ-law byte, decoded once (G.711: bytes are stored inverted). */
const MAGNITUDE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const u = ~byte & 0xff;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    table[byte] = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  }
  return table;
})();

/** Mean absolute linear amplitude of `frame` (0 for an empty frame). Speech in the fixtures: 200–4000; silence: ~2. */
export function meanAmplitude(frame: Uint8Array): number {
  if (frame.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < frame.length; i++) sum += MAGNITUDE[frame[i] as number] as number;
  return sum / frame.length;
}

/**
 * A stamp is 8 bytes of µ-law whose low nibbles spell a 32-bit number. Bytes 0xF0–0xFF are the
 * quietest positive codes (|x| ≤ 120 of 32124), so a stamp at the start of a 160-byte frame adds
 * at most 6 to the frame's mean amplitude: inaudible, and far below the VAD threshold.
 */
export const STAMP_BYTES = 8;
const STAMP_HIGH = 0xf0;

/** Writes `value` (uint32) as a stamp at `offset` of `frame` (in place). */
export function writeStamp(frame: Uint8Array, value: number, offset = 0): void {
  if (frame.length < offset + STAMP_BYTES) throw new RangeError('frame too short for a stamp');
  for (let i = 0; i < STAMP_BYTES; i++) frame[offset + i] = STAMP_HIGH | ((value >>> (28 - 4 * i)) & 0x0f);
}

/** Reads a stamp at `offset`, or null when the bytes there are not a stamp. */
export function readStamp(frame: Uint8Array, offset = 0): number | null {
  if (offset < 0 || frame.length < offset + STAMP_BYTES) return null;
  let value = 0;
  for (let i = 0; i < STAMP_BYTES; i++) {
    const byte = frame[offset + i] as number;
    if ((byte & 0xf0) !== STAMP_HIGH) return null;
    value = (value << 4) | (byte & 0x0f);
  }
  return value >>> 0;
}
