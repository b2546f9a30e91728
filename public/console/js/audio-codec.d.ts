// Types of audio-codec.js for the Node tests that import it (the browser needs none).
export function encodeMulaw(sample: number): number;
export function decodeMulaw(bytes: Uint8Array): Float32Array;
export const SPEECH_CUTOFF_HZ: number;
export class LowPass {
  constructor(rate: number, cutoffHz: number);
  step(x: number): number;
}
export class Downsampler {
  constructor(inRate: number, outRate?: number);
  push(input: Float32Array): Float32Array;
}
export class Upsampler {
  constructor(outRate: number, inRate?: number);
  readonly fraction: number;
  sample(next: () => number | null): number | null;
}
