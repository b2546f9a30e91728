// Audio arithmetic for the softphone's worklets: G.711 µ-law (the format Twilio Media Streams
// carry, 8000 samples a second) and the resampling between the browser's rate (44.1 or 48 kHz)
// and 8 kHz. Pure, no browser API: the worklets import it, and the tests run it in Node.

/** µ-law's bias and the largest magnitude it codes (G.711). */
const BIAS = 0x84;
const CLIP = 32635;

/** The µ-law byte of one sample in [-1, 1]. */
export function encodeMulaw(sample) {
  let s = Math.round(sample * 32767);
  if (s > 32767) s = 32767;
  else if (s < -32768) s = -32768;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Each µ-law byte's sample in [-1, 1], computed once. */
const DECODED = (() => {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const u = ~byte & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = ((((u & 0x0f) << 3) + BIAS) << exponent) - BIAS;
    table[byte] = (u & 0x80 ? -magnitude : magnitude) / 32768;
  }
  return table;
})();

/** The samples of µ-law `bytes` (a Uint8Array), in [-1, 1]. */
export function decodeMulaw(bytes) {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODED[bytes[i]];
  return out;
}

/**
 * A 6th-order Butterworth low-pass (three biquads, RBJ cookbook), one sample at a time: what keeps
 * the speech band (telephone audio ends at ~3.4 kHz) and removes what would alias at 8 kHz
 * (-30 dB at 6 kHz, which would fold onto 2 kHz).
 */
export class LowPass {
  constructor(rate, cutoffHz) {
    this.sections = [0.5176, 0.7071, 1.9319].map((q) => {
      const w0 = (2 * Math.PI * Math.min(cutoffHz, rate * 0.45)) / rate;
      const cos = Math.cos(w0);
      const alpha = Math.sin(w0) / (2 * q);
      const a0 = 1 + alpha;
      return { b0: (1 - cos) / 2 / a0, b1: (1 - cos) / a0, b2: (1 - cos) / 2 / a0, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0, z1: 0, z2: 0 };
    });
  }

  step(x) {
    let y = x;
    for (const s of this.sections) {
      // Transposed direct form II.
      const out = s.b0 * y + s.z1;
      s.z1 = s.b1 * y - s.a1 * out + s.z2;
      s.z2 = s.b2 * y - s.a2 * out;
      y = out;
    }
    return y;
  }
}

/** Where the speech band of telephone audio ends, Hz: the low-pass cutoff both ways. */
export const SPEECH_CUTOFF_HZ = 3400;

/**
 * From `inRate` down to `outRate` (8000): low-pass, then linear interpolation at each output
 * sample's position. Blocks of any length; the position carries over from block to block.
 */
export class Downsampler {
  constructor(inRate, outRate = 8000) {
    if (!(inRate >= outRate)) throw new RangeError(`cannot downsample ${inRate} Hz to ${outRate} Hz`);
    this.step = inRate / outRate;
    this.filter = new LowPass(inRate, SPEECH_CUTOFF_HZ);
    /** The next output sample's position, in input samples from the current block's start (may be in [-1, 0)). */
    this.position = 0;
    /** The last filtered sample of the previous block (position -1). */
    this.last = 0;
    this.filtered = new Float32Array(128);
    this.out = new Float32Array(64);
  }

  /** The output samples `input` (a Float32Array) completes; valid until the next call. */
  push(input) {
    const n = input.length;
    if (this.filtered.length < n) this.filtered = new Float32Array(n);
    const y = this.filtered;
    for (let i = 0; i < n; i++) y[i] = this.filter.step(input[i]);
    const most = Math.ceil(n / this.step) + 2;
    if (this.out.length < most) this.out = new Float32Array(most);
    let count = 0;
    for (;;) {
      const i = Math.floor(this.position);
      if (i + 1 > n - 1) break;
      const a = i < 0 ? this.last : y[i];
      const b = y[i + 1];
      this.out[count++] = a + (b - a) * (this.position - i);
      this.position += this.step;
    }
    if (n > 0) this.last = y[n - 1];
    this.position -= n;
    return this.out.subarray(0, count);
  }
}

/**
 * From 8 kHz up to the output rate: linear interpolation between consecutive samples, then the
 * same low-pass (it smooths the corners interpolation leaves). Pulls 8 kHz samples from `next`
 * (a function returning a number, or null when there is none yet).
 */
export class Upsampler {
  constructor(outRate, inRate = 8000) {
    this.step = inRate / outRate;
    this.filter = new LowPass(outRate, SPEECH_CUTOFF_HZ);
    this.previous = 0;
    this.current = 0;
    /** How far between `previous` and `current` the next output sample lies, in input samples. */
    this.fraction = 1;
  }

  /** The next output sample, or null when `next` ran dry (the state then restarts from silence). */
  sample(next) {
    while (this.fraction >= 1) {
      const value = next();
      if (value === null) {
        this.previous = 0;
        this.current = 0;
        this.fraction = 1;
        return null;
      }
      this.previous = this.current;
      this.current = value;
      this.fraction -= 1;
    }
    const value = this.previous + (this.current - this.previous) * this.fraction;
    this.fraction += this.step;
    return this.filter.step(value);
  }
}
