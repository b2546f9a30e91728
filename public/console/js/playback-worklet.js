// The softphone's speaker side, on the audio thread: the assistant's µ-law audio and the bridge's
// marks, played in order as Twilio plays them.
//
// Messages from the page:  {type: 'audio', bytes: Uint8Array}  µ-law, 8 kHz, queued
//                          {type: 'mark', name}                 echoed once the audio before it has played
//                          {type: 'clear'}                      drop everything queued now (barge-in);
//                                                               pending marks are echoed at once, as Twilio does
// Messages to the page:    {type: 'mark', name, cleared, played} send the mark's echo to the bridge
//                                                               (played: samples played before it)
//                          {type: 'progress', played, queued}   8 kHz samples played since the start, still queued
import { decodeMulaw, Upsampler } from './audio-codec.js';

/** How often progress is reported, in render quanta of 128 samples (~64 ms at 48 kHz). */
const REPORT_EVERY = 24;
/**
 * Most audio held, in 8 kHz samples (2 minutes): the bridge paces its audio at real time, so more
 * means something is wrong; past it the oldest audio is dropped (a mark before it stays in order).
 */
const MAX_QUEUED_SAMPLES = 8000 * 120;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    /** Audio chunks ({samples, offset}) and marks ({name}), in the order they arrived. */
    this.queue = [];
    this.queued = 0;
    this.played = 0;
    this.dropped = 0;
    this.quanta = 0;
    this.up = new Upsampler(sampleRate);
    this.pull = () => this.next();
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message.type === 'audio') {
      const samples = decodeMulaw(message.bytes);
      this.queue.push({ samples, offset: 0 });
      this.queued += samples.length;
      while (this.queued > MAX_QUEUED_SAMPLES) this.dropOldest();
    } else if (message.type === 'mark') {
      this.queue.push({ name: String(message.name) });
      this.echoPlayedMarks();
    } else if (message.type === 'clear') {
      for (const item of this.queue) if (item.name !== undefined) this.port.postMessage({ type: 'mark', name: item.name, cleared: true, played: this.played });
      this.queue = [];
      this.queued = 0;
      this.report();
    }
  }

  /** Echoes the marks at the head of the queue: everything before them has played. */
  echoPlayedMarks() {
    while (this.queue.length > 0 && this.queue[0].name !== undefined) {
      this.port.postMessage({ type: 'mark', name: this.queue.shift().name, cleared: false, played: this.played });
    }
  }

  /** The next 8 kHz sample to play, or null when none is queued. */
  next() {
    this.echoPlayedMarks();
    const head = this.queue[0];
    if (head === undefined) return null;
    const value = head.samples[head.offset++];
    if (head.offset >= head.samples.length) this.queue.shift();
    this.queued -= 1;
    this.played += 1;
    return value;
  }

  dropOldest() {
    const index = this.queue.findIndex((item) => item.samples !== undefined);
    if (index < 0) return;
    const chunk = this.queue[index];
    const left = chunk.samples.length - chunk.offset;
    this.queue.splice(index, 1);
    this.queued -= left;
    this.dropped += left;
  }

  report() {
    this.port.postMessage({ type: 'progress', played: this.played, queued: this.queued, dropped: this.dropped });
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    for (let i = 0; i < out.length; i++) {
      const value = this.queued > 0 || this.up.fraction < 1 ? this.up.sample(this.pull) : null;
      out[i] = value === null ? 0 : value;
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.echoPlayedMarks();
    if (++this.quanta % REPORT_EVERY === 0) this.report();
    return true;
  }
}

registerProcessor('vb-playback', PlaybackProcessor);
