/**
 * The demo's output: a timeline of steps with their time since the webhook, and a summary of the
 * call's figures (frames and bytes each way, messages per second, drops).
 */
import type { FakeRealtimeConnection } from '../fakes/fake-realtime-connection.js';
import type { FakeTwilioCall } from '../fakes/fake-twilio-call.js';
import type { ScriptEvent } from './vad-script.js';

export type DemoStep =
  | 'webhook'
  | 'twiml'
  | 'upgrade'
  | 'start'
  | 'upstream'
  | 'caller'
  | 'audio_up'
  | 'turn'
  | 'answer'
  | 'audio_down'
  | 'barge_in'
  | 'clear'
  | 'truncate'
  | 'hangup'
  | 'end';

export interface TimelineEntry {
  /** Seconds since the webhook was posted. */
  readonly atS: number;
  readonly step: DemoStep;
  readonly text: string;
}

export interface DemoSummary {
  readonly timeline: readonly TimelineEntry[];
  readonly durationS: number;
  /** Caller → bridge (Twilio media, 20 ms each). */
  readonly callerFrames: number;
  readonly callerBytes: number;
  /** Bridge → Realtime. */
  readonly appends: number;
  readonly appendedBytes: number;
  readonly upstreamMessages: number;
  /** Caller audio arrived upstream exactly, in order (only an unflushed last partial frame may be missing). */
  readonly byteExact: boolean;
  /** Realtime → bridge. */
  readonly deltas: number;
  readonly deltaBytes: number;
  /** Bridge → caller. */
  readonly media: number;
  readonly mediaBytes: number;
  readonly marks: number;
  readonly clears: number;
  /** Appends per second of caller audio. */
  readonly appendsPerS: number;
  /** Messages to Twilio (media + marks + clear) per second of answer audio sent. */
  readonly twilioMessagesPerS: number;
  readonly heardMsAtBargeIn: number;
  readonly truncateAudioEndMs: number;
  /** From the bridge's own `call ended` log record. */
  readonly endReason: string | null;
  readonly droppedToUpstream: number | null;
  readonly droppedToTwilio: number | null;
  readonly bargeIns: number | null;
  /** Warning/error lines the bridge logged (none on an ordinary call). */
  readonly warnings: readonly string[];
  readonly answers: readonly ScriptEvent[];
}

export interface SummaryInput {
  readonly call: FakeTwilioCall;
  readonly upstream: FakeRealtimeConnection;
  readonly callerBytes: number;
  readonly byteExact: boolean;
  readonly heardMsAtBargeIn: number;
  readonly truncateAudioEndMs: number;
  readonly bridge: Record<string, unknown> | null;
  readonly warnings: readonly string[];
  readonly answers: readonly ScriptEvent[];
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly print: (line: string) => void;
  private origin = performance.now();

  constructor(print: (line: string) => void) {
    this.print = print;
  }

  start(): void {
    this.origin = performance.now();
    this.print('   time  step        what happened');
  }

  note(step: DemoStep, text: string): void {
    const atS = (performance.now() - this.origin) / 1000;
    this.entries.push({ atS, step, text });
    this.print(`${atS.toFixed(3).padStart(7)}  ${step.padEnd(10)}  ${text}`);
  }

  onScript(event: ScriptEvent): void {
    switch (event.type) {
      case 'speech_started':
        if (event.interrupted) this.note('barge_in', `stand-in: speech_started while answering: the caller is talking over the answer (cancelled)`);
        else this.note('turn', `stand-in: speech_started at ${(event.audioMs / 1000).toFixed(1)} s of caller audio`);
        return;
      case 'speech_stopped':
        this.note('turn', `stand-in: speech_stopped at ${(event.audioMs / 1000).toFixed(1)} s (500 ms of quiet): the caller's turn ended`);
        return;
      case 'answer_started':
        this.note('answer', 'stand-in: answering with the agent fixture in 20 ms deltas, real time');
        return;
      case 'answer_ended':
        if (event.status !== 'completed') return;
        this.note('answer', `stand-in: answer complete (${event.deltas} deltas, ${event.bytes} bytes)`);
        return;
    }
  }

  summary(input: SummaryInput): DemoSummary {
    const { call, upstream } = input;
    const deltas = countSent(upstream, input.answers);
    const stats = (input.bridge?.['stats'] ?? null) as Record<string, unknown> | null;
    const dropped = (key: string): number | null => {
      const d = stats?.[key] as { frames?: number } | undefined;
      return typeof d?.frames === 'number' ? d.frames : null;
    };
    const media = call.count('media');
    const marks = call.count('mark');
    const clears = call.count('clear');
    const mediaBytes = call.receivedBytes;
    const appends = upstream.count('input_audio_buffer.append');
    const lastAt = this.entries.at(-1)?.atS ?? 0;
    return {
      timeline: [...this.entries],
      durationS: lastAt,
      callerFrames: Math.ceil(input.callerBytes / 160),
      callerBytes: input.callerBytes,
      appends,
      appendedBytes: upstream.appendedBytes,
      upstreamMessages: upstream.events.length,
      byteExact: input.byteExact,
      deltas: deltas.deltas,
      deltaBytes: deltas.bytes,
      media,
      mediaBytes,
      marks,
      clears,
      appendsPerS: input.callerBytes > 0 ? appends / (input.callerBytes / 8000) : 0,
      twilioMessagesPerS: mediaBytes > 0 ? (media + marks + clears) / (mediaBytes / 8000) : 0,
      heardMsAtBargeIn: input.heardMsAtBargeIn,
      truncateAudioEndMs: input.truncateAudioEndMs,
      endReason: typeof input.bridge?.['reason'] === 'string' ? input.bridge['reason'] : null,
      droppedToUpstream: dropped('droppedToUpstream'),
      droppedToTwilio: dropped('droppedToTwilio'),
      bargeIns: typeof stats?.['bargeIns'] === 'number' ? stats['bargeIns'] : null,
      warnings: input.warnings,
      answers: input.answers,
    };
  }
}

/** Deltas (160 bytes each, the last of an answer shorter) and bytes the stand-in streamed, over every answer. */
function countSent(upstream: FakeRealtimeConnection, answers: readonly ScriptEvent[]): { deltas: number; bytes: number } {
  let deltas = 0;
  let bytes = 0;
  for (const a of answers) {
    if (a.type !== 'answer_started') continue;
    const sent = upstream.itemAudio(a.itemId);
    deltas += Math.ceil(sent / 160);
    bytes += sent;
  }
  return { deltas, bytes };
}

export function formatSummary(s: DemoSummary): string[] {
  const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;
  const secs = (bytes: number): string => `${(bytes / 8000).toFixed(2)} s`;
  return [
    `summary (${s.durationS.toFixed(1)} s):`,
    `  caller → bridge      ${String(s.callerFrames).padStart(4)} media frames (20 ms)   ${kb(s.callerBytes)} = ${secs(s.callerBytes)} of audio, 50 msg/s`,
    `  bridge → Realtime    ${String(s.appends).padStart(4)} appends (100 ms)       ${kb(s.appendedBytes)}, ${s.appendsPerS.toFixed(1)} appends per second of audio; ` +
      `byte-exact: ${s.byteExact ? 'yes' : 'NO'}`,
    `  Realtime → bridge    ${String(s.deltas).padStart(4)} deltas (20 ms)         ${kb(s.deltaBytes)}`,
    `  bridge → caller      ${String(s.media).padStart(4)} media + ${s.marks} marks + ${s.clears} clear   ${kb(s.mediaBytes)} = ${secs(s.mediaBytes)} of answer audio, ` +
      `${s.twilioMessagesPerS.toFixed(1)} messages per second of audio`,
    `  barge-in             caller heard ${(s.heardMsAtBargeIn / 1000).toFixed(2)} s; the bridge truncated the answer at ${(s.truncateAudioEndMs / 1000).toFixed(2)} s`,
    `  drops                ${s.droppedToUpstream ?? '?'} to Realtime, ${s.droppedToTwilio ?? '?'} to the caller; end reason ${s.endReason ?? '?'}; ` +
      `${s.warnings.length === 0 ? 'no warnings logged' : `${s.warnings.length} warning(s) logged`}`,
  ];
}
