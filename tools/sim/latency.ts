/**
 * Added latency through the bridge, measured from outside on one clock: the simulated caller and
 * the Realtime stand-in run in the same process, so a frame's send time and its arrival on the
 * other side are compared directly.
 *
 * Frames carry a stamp (a sequence number hidden in near-silent bytes, see ulaw.ts) at the start
 * of every 160-byte piece. The bridge forwards bytes exactly and in order, so the last 160 bytes
 * of an aggregated frame begin with the stamp of the piece that completed it: the latency of
 * that frame is its arrival minus that piece's send time.
 */
import { readStamp, writeStamp } from './ulaw.js';
import { Samples } from './stats.js';

/** One 20 ms Twilio frame / model delta in the stamped streams: 160 bytes of µ-law. */
export const PIECE_BYTES = 160;
/**
 * Send times remembered per direction: 262,144 pieces (4 MB) = 5 s of history at 1,000 calls × 50
 * pieces/s; a piece that takes longer than that to cross the bridge is not measured (and is a drop anyway).
 */
const RING = 1 << 18;

class StampRing {
  private next = 1;
  private readonly seqs = new Uint32Array(RING);
  private readonly times = new Float64Array(RING);
  private readonly owners = new Int32Array(RING);

  stamp(piece: Uint8Array, owner: number, now: number): void {
    const seq = this.next;
    this.next = (this.next + 1) >>> 0 || 1;
    writeStamp(piece, seq);
    const slot = seq & (RING - 1);
    this.seqs[slot] = seq;
    this.times[slot] = now;
    this.owners[slot] = owner;
  }

  /** The send time and owner of `seq`, or null when unknown or overwritten. */
  lookup(seq: number): { time: number; owner: number } | null {
    const slot = seq & (RING - 1);
    if (this.seqs[slot] !== seq) return null;
    return { time: this.times[slot] as number, owner: this.owners[slot] as number };
  }
}

export class LatencyProbe {
  /** Caller frame sent → `input_audio_buffer.append` carrying it received (the frame that completed a 100 ms window). */
  readonly callerToUpstream = new Samples();
  /** Model delta sent → Twilio `media` carrying it received (the delta that completed a full 100 ms frame). */
  readonly modelToTwilio = new Samples();
  /** `speech_started` sent → Twilio `clear` received. */
  readonly speechToClear = new Samples();
  private readonly caller = new StampRing();
  private readonly model = new StampRing();
  private readonly speechAt = new Map<number, number>();

  /** Stamps a caller frame of call `callId` about to be sent. */
  stampCallerFrame(callId: number, frame: Uint8Array, now: number): void {
    this.caller.stamp(frame, callId, now);
  }

  /** An append arrived at the stand-in; returns the call it belongs to (from its stamps), or null. */
  onAppend(audio: Uint8Array, now: number): number | null {
    if (audio.length < PIECE_BYTES || audio.length % PIECE_BYTES !== 0) return null;
    const hit = this.lookupLast(this.caller, audio);
    if (hit === null) return null;
    // Only full 100 ms frames measure relay latency; a short frame was sent by the window timer.
    if (audio.length >= 5 * PIECE_BYTES) this.callerToUpstream.add(now - hit.time);
    return hit.owner;
  }

  stampDelta(callId: number, delta: Uint8Array, now: number): void {
    this.model.stamp(delta, callId, now);
  }

  onTwilioMedia(audio: Uint8Array, now: number): void {
    // Only frames filled by deltas (≥ 100 ms) measure relay latency; a shorter one left on the
    // window timer (the model fell behind real time) or at the end of an answer.
    if (audio.length < 5 * PIECE_BYTES || audio.length % PIECE_BYTES !== 0) return;
    const hit = this.lookupLast(this.model, audio);
    if (hit !== null) this.modelToTwilio.add(now - hit.time);
  }

  /** The stand-in sent speech_started on call `callId` while its answer was playing. */
  onSpeechStarted(callId: number, now: number): void {
    this.speechAt.set(callId, now);
  }

  onClear(callId: number, now: number): void {
    const at = this.speechAt.get(callId);
    if (at === undefined) return;
    this.speechAt.delete(callId);
    this.speechToClear.add(now - at);
  }

  reset(): void {
    this.callerToUpstream.reset();
    this.modelToTwilio.reset();
    this.speechToClear.reset();
    this.speechAt.clear();
  }

  private lookupLast(ring: StampRing, audio: Uint8Array): { time: number; owner: number } | null {
    const seq = readStamp(audio, audio.length - PIECE_BYTES);
    return seq === null ? null : ring.lookup(seq);
  }
}
