// The softphone's microphone side, on the audio thread: the browser's samples (44.1 or 48 kHz)
// down to 8 kHz, µ-law encoded, posted to the page as 20 ms frames of 160 bytes (what a Twilio
// media message carries), each with its mean level (0..1) for the page's meter.
import { Downsampler, encodeMulaw } from './audio-codec.js';

/** 20 ms at 8000 samples a second: one Media Streams frame. */
const FRAME_BYTES = 160;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the AudioWorkletGlobalScope's: the context's rate.
    this.down = new Downsampler(sampleRate, 8000);
    this.frame = new Uint8Array(FRAME_BYTES);
    this.filled = 0;
    this.level = 0;
  }

  process(inputs, outputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      const samples = this.down.push(channel);
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i];
        this.frame[this.filled++] = encodeMulaw(s);
        this.level += s < 0 ? -s : s;
        if (this.filled === FRAME_BYTES) {
          const frame = this.frame;
          this.port.postMessage({ frame, level: this.level / FRAME_BYTES }, [frame.buffer]);
          this.frame = new Uint8Array(FRAME_BYTES);
          this.filled = 0;
          this.level = 0;
        }
      }
    }
    // The node is connected to the destination through a muted gain (so the graph pulls it): silence.
    for (const output of outputs) for (const out of output) out.fill(0);
    return true;
  }
}

registerProcessor('vb-capture', CaptureProcessor);
