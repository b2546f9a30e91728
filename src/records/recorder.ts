/**
 * The call recorder: what sessions feed (begin, turns, usage, end). It keeps each open call in
 * memory within per-call limits and hands the finished record to the writer (record-writer.ts),
 * which writes batches to the store off the audio path.
 *
 * Nothing a session calls waits on the database or throws: these methods only touch memory, with
 * a named limit on every buffer (calls open, turns and text per call, records waiting), and an
 * overflow is counted in `voice_bridge_call_records_lost_total{reason}` (or, for turns,
 * `voice_bridge_call_record_turns_dropped_total`), never thrown. A bug met here is logged once and
 * the call goes on.
 *
 * With no store (CALL_RECORDS=off) the recorder still knows the live calls (`live()`), and keeps
 * no turns.
 */
import type { Logger } from 'pino';
import { audioFromStats, NO_AUDIO, type CallRecord, type SessionAudioStats, type TokenUsage } from './record.js';
import { NO_USAGE } from './usage.js';
import { CALL_LIMITS, cleanTurn, OpenCall, type CallLimits, type CallStart, type TurnInput } from './open-call.js';
import type { RecordMetrics } from './record-metrics.js';
import { RecordWriter, WRITER_LIMITS, type WriterLimits } from './record-writer.js';
import type { RecordStore } from './store.js';

export interface RecorderLimits extends CallLimits, WriterLimits {
  /** Calls recorded at once; a begin past it is refused (lost: too_many_open). Far above MAX_CALLS. @default 10 000 */
  readonly maxOpenCalls: number;
}

export const RECORDER_LIMITS: RecorderLimits = Object.freeze({ ...CALL_LIMITS, ...WRITER_LIMITS, maxOpenCalls: 10_000 });

/** How long close() keeps writing what is left before counting it as lost, ms. @default 3000 */
export const CLOSE_DEADLINE_MS = 3000;

/** How a call ended, as the session knows it. */
export interface CallEnd {
  /** ms since the epoch. @default the recorder's clock */
  readonly endedAt?: number;
  /** The session's close reason. */
  readonly reason: string;
  /** The session's per-call figures (CallStats fits). @default none: zeros */
  readonly stats?: SessionAudioStats;
  /** The model's tokens over the call (usage.ts `recordUsage`). @default none: zeros */
  readonly usage?: TokenUsage;
}

/** The narrow interface a session feeds. None of its methods waits or throws. */
export interface CallRecordFeed {
  begin(callSid: string, start: CallStart): void;
  turn(callSid: string, turn: TurnInput): void;
  end(callSid: string, end: CallEnd): void;
}

/** A call in progress, as GET /calls/live lists it. */
export type LiveCall = Pick<CallRecord, 'callSid' | 'direction' | 'from' | 'to' | 'assistant' | 'startedAt'>;

export interface CallRecorderOptions {
  /** null: recording is off (live calls only). */
  readonly store: RecordStore | null;
  readonly metrics: RecordMetrics;
  readonly log: Logger;
  /** Wall clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  readonly limits?: Partial<RecorderLimits>;
}

export class CallRecorder implements CallRecordFeed {
  private readonly metrics: RecordMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limits: RecorderLimits;
  private readonly open = new Map<string, OpenCall>();
  /** null: recording is off. */
  private readonly writer: RecordWriter | null;
  private warnedOpenLimit = false;
  private reportedFault = false;
  private closed = false;

  constructor(opts: CallRecorderOptions) {
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.limits = { ...RECORDER_LIMITS, ...opts.limits };
    this.writer = opts.store
      ? new RecordWriter({ store: opts.store, metrics: this.metrics, log: this.log, now: this.now, limits: this.limits })
      : null;
  }

  /** Finished records not yet written. */
  get pending(): number {
    return this.writer?.pending ?? 0;
  }

  begin(callSid: string, start: CallStart): void {
    this.contained(() => {
      if (this.closed || this.open.has(callSid)) return; // a second begin: the first one stands
      if (this.open.size >= this.limits.maxOpenCalls) {
        if (!this.warnedOpenLimit) this.log.warn({ limit: this.limits.maxOpenCalls }, 'too many calls being recorded at once; new ones are not recorded');
        this.warnedOpenLimit = true;
        this.metrics.lost.labels('too_many_open').inc();
        return;
      }
      this.open.set(callSid, new OpenCall(callSid, { ...start, startedAt: start.startedAt ?? this.now() }, this.limits));
    });
  }

  turn(callSid: string, turn: TurnInput): void {
    this.contained(() => {
      const call = this.open.get(callSid);
      if (!call || !this.writer) return;
      const verdict = call.add(cleanTurn(turn, turn.at ?? this.now()));
      if (verdict !== 'kept') this.metrics.turnsDropped.labels(verdict).inc();
    });
  }


  end(callSid: string, end: CallEnd): void {
    this.contained(() => {
      const call = this.open.get(callSid);
      if (!call) return;
      this.open.delete(callSid);
      if (!this.writer) return;
      const audio = end.stats ? audioFromStats(end.stats) : NO_AUDIO;
      this.writer.enqueue(call.finish({ endedAt: end.endedAt ?? this.now(), reason: end.reason, audio, usage: end.usage ?? NO_USAGE }));
    });
  }

  live(): LiveCall[] {
    return [...this.open.values()].map((c) => ({
      callSid: c.callSid,
      direction: c.direction,
      from: c.from,
      to: c.to,
      assistant: c.assistant,
      startedAt: c.startedAt,
    }));
  }

  /**
   * Records the calls still open (end reason `recorder_closed`), then writes what waits until it
   * is written or `deadlineMs` has passed; what is left then is counted as lost (shutdown).
   * Later calls of the feed are ignored.
   */
  async close(deadlineMs = CLOSE_DEADLINE_MS): Promise<void> {
    if (this.closed) return;
    for (const callSid of [...this.open.keys()]) this.end(callSid, { reason: 'recorder_closed' });
    this.closed = true;
    await this.writer?.close(deadlineMs);
  }

  /** Recording must never end a call: a bug here is logged once and the call goes on. */
  private contained(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (this.reportedFault) return;
      this.reportedFault = true;
      // The error's message and stack only: never the turn that caused it (a caller's words).
      this.log.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'call recorder fault; the call goes on');
    }
  }
}
