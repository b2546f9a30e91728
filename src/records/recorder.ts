/**
 * The call recorder: sessions feed it (begin, turns, usage, end) and it writes finished records
 * to the store in batches, off the audio path.
 *
 * Nothing a session calls waits on the database or throws: the calls only touch memory, with a
 * named limit on every buffer (calls open, turns and text per call, records waiting), and an
 * overflow is counted in `voice_bridge_call_records_lost_total{reason}`, never thrown. Writes
 * run later, one at a time, on a timer (FLUSH_INTERVAL_MS after the first waiting record) or as
 * soon as a batch is full. A database that fails or hangs costs records, never audio or a call:
 * a failed batch is retried up to MAX_WRITE_ATTEMPTS times, new records wait (up to
 * MAX_PENDING_RECORDS) meanwhile, one warn line says it started failing and one info line says
 * it recovered. Only one write is ever outstanding, so a hung database cannot pile up queries.
 *
 * With no store (CALL_RECORDS=off) the recorder still knows the live calls (`live()`), and keeps
 * no turns.
 */
import type { Logger } from 'pino';
import { audioFromStats, NO_AUDIO, type CallDirection, type CallRecord, type SessionAudioStats, type TokenUsage } from './record.js';
import { CALL_LIMITS, cleanTurn, OpenCall, type CallLimits, type CallStart, type TurnInput } from './open-call.js';
import type { LostReason, RecordMetrics } from './record-metrics.js';
import { describeStoreError, type RecordStore } from './store.js';

export interface RecorderLimits extends CallLimits {
  /** Calls recorded at once; a begin past it is refused (lost: too_many_open). Far above MAX_CALLS. @default 10 000 */
  readonly maxOpenCalls: number;
  /** Finished records waiting for the database; one more is lost (overflow). @default 500 */
  readonly maxPendingRecords: number;
  /** Records per write (one transaction); a full batch is written at once. @default 50 */
  readonly batchRecords: number;
  /** How long a record waits for its batch to fill before it is written anyway, ms. @default 1000 */
  readonly flushIntervalMs: number;
  /** A write with no answer after this long counts as failing (warned once), ms. @default 5000 */
  readonly writeTimeoutMs: number;
  /** Failed writes of one batch before its records are given up (lost: store_error). @default 3 */
  readonly maxWriteAttempts: number;
}

export const RECORDER_LIMITS: RecorderLimits = Object.freeze({
  ...CALL_LIMITS,
  maxOpenCalls: 10_000,
  maxPendingRecords: 500,
  batchRecords: 50,
  flushIntervalMs: 1000,
  writeTimeoutMs: 5000,
  maxWriteAttempts: 3,
});

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
}

/** The narrow interface a session feeds. None of its methods waits or throws. */
export interface CallRecordFeed {
  begin(callSid: string, start: CallStart): void;
  turn(callSid: string, turn: TurnInput): void;
  /** One `response.done`'s usage (usage.ts `readUsage`); null is ignored. */
  usage(callSid: string, usage: TokenUsage | null): void;
  end(callSid: string, end: CallEnd): void;
}

/** A call in progress, as GET /calls/live lists it. */
export interface LiveCall {
  readonly callSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly assistant: string | null;
  readonly startedAt: number;
}

export interface CallRecorderOptions {
  /** null: recording is off (live calls only). */
  readonly store: RecordStore | null;
  readonly metrics: RecordMetrics;
  readonly log: Logger;
  /** Wall clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  readonly limits?: Partial<RecorderLimits>;
}

interface Pending {
  readonly record: CallRecord;
  attempts: number;
}

export class CallRecorder implements CallRecordFeed {
  private readonly store: RecordStore | null;
  private readonly metrics: RecordMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limits: RecorderLimits;
  private readonly open = new Map<string, OpenCall>();
  private readonly queue: Pending[] = [];
  /** The write in progress (at most one), resolving to whether it succeeded. */
  private writing: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** When writes started failing (ms), or null while they succeed. */
  private failingSince: number | null = null;
  private lostWhileFailing = 0;
  private warnedOpenLimit = false;
  private reportedFault = false;
  private closed = false;

  constructor(opts: CallRecorderOptions) {
    this.store = opts.store;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.limits = { ...RECORDER_LIMITS, ...opts.limits };
  }

  /** Finished records not yet written. */
  get pending(): number {
    return this.queue.length;
  }

  begin(callSid: string, start: CallStart): void {
    this.contained(() => {
      if (this.closed || this.open.has(callSid)) return; // a second begin: the first one stands
      if (this.open.size >= this.limits.maxOpenCalls) {
        if (!this.warnedOpenLimit) this.log.warn({ limit: this.limits.maxOpenCalls }, 'too many calls being recorded at once; new ones are not recorded');
        this.warnedOpenLimit = true;
        this.lose('too_many_open');
        return;
      }
      this.open.set(callSid, new OpenCall(callSid, { ...start, startedAt: start.startedAt ?? this.now() }, this.limits));
    });
  }

  turn(callSid: string, turn: TurnInput): void {
    this.contained(() => {
      const call = this.open.get(callSid);
      if (!call || !this.store) return;
      const verdict = call.add(cleanTurn(turn, turn.at ?? this.now()));
      if (verdict !== 'kept') this.metrics.turnsDropped.labels(verdict).inc();
    });
  }

  usage(callSid: string, usage: TokenUsage | null): void {
    this.contained(() => {
      if (usage) this.open.get(callSid)?.addUsage(usage);
    });
  }

  end(callSid: string, end: CallEnd): void {
    this.contained(() => {
      const call = this.open.get(callSid);
      if (!call) return;
      this.open.delete(callSid);
      if (!this.store) return;
      const audio = end.stats ? audioFromStats(end.stats) : NO_AUDIO;
      this.enqueue(call.finish({ endedAt: end.endedAt ?? this.now(), reason: end.reason, audio }));
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
   * Records the calls still open (end reason `recorder_closed`), then writes what waits until
   * it is written or `deadlineMs` has passed; what is left then is counted as lost (shutdown).
   */
  async close(deadlineMs = CLOSE_DEADLINE_MS): Promise<void> {
    if (this.closed) return;
    for (const callSid of [...this.open.keys()]) this.end(callSid, { reason: 'recorder_closed' });
    this.closed = true;
    this.clearTimers();
    if (!this.store || this.queue.length === 0) return;
    let expired = false;
    let deadline: NodeJS.Timeout | undefined;
    const timeUp = new Promise<void>((resolve) => {
      deadline = setTimeout(() => {
        expired = true;
        resolve();
      }, deadlineMs);
    });
    try {
      while (!expired && this.queue.length > 0) await Promise.race([this.writing ?? this.startWrite(), timeUp]);
    } finally {
      clearTimeout(deadline);
    }
    const left = this.queue.splice(0).length;
    if (left > 0) {
      this.lose('shutdown', left);
      this.log.warn({ lost: left, deadlineMs }, 'call records still unwritten at shutdown were lost');
    }
  }

  private enqueue(record: CallRecord): void {
    if (this.closed) {
      this.lose('shutdown');
      return;
    }
    if (this.queue.length >= this.limits.maxPendingRecords) {
      this.lose('overflow');
      this.failing({ message: `${this.limits.maxPendingRecords} records are already waiting for the database` });
      return;
    }
    this.queue.push({ record, attempts: 0 });
    if (this.queue.length >= this.limits.batchRecords) this.flushSoon();
    else this.arm();
  }

  /** Writes in FLUSH_INTERVAL_MS, unless a write or a timer is already on its way. */
  private arm(): void {
    if (this.timer || this.immediate || this.writing || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.startWrite();
    }, this.limits.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes on the next turn of the event loop: never inside the caller's stack. */
  private flushSoon(): void {
    if (this.immediate || this.writing || this.closed) return;
    this.clearTimers();
    this.immediate = setImmediate(() => {
      this.immediate = null;
      void this.startWrite();
    });
    this.immediate.unref();
  }

  private startWrite(): Promise<boolean> {
    if (this.writing) return this.writing;
    const batch = this.queue.slice(0, this.limits.batchRecords);
    if (batch.length === 0) return Promise.resolve(true);
    const writing = this.write(batch).then((ok) => {
      this.writing = null;
      if (this.queue.length === 0 || this.closed) return ok;
      // After a success, a full batch goes at once; after a failure, the retry waits a tick of the timer.
      if (ok && this.queue.length >= this.limits.batchRecords) this.flushSoon();
      else this.arm();
      return ok;
    });
    this.writing = writing;
    return writing;
  }

  /** Never rejects: a failure is counted and logged here. */
  private async write(batch: Pending[]): Promise<boolean> {
    const store = this.store!;
    let settled = false;
    const watchdog = setTimeout(() => {
      if (!settled) this.failing({ message: `no answer within ${this.limits.writeTimeoutMs} ms` });
    }, this.limits.writeTimeoutMs);
    watchdog.unref();
    try {
      await store.insert(batch.map((p) => p.record));
      settled = true;
      this.remove(batch);
      this.metrics.written.inc(batch.length);
      this.recovered();
      return true;
    } catch (err) {
      settled = true;
      for (const p of batch) p.attempts += 1;
      const spent = batch.filter((p) => p.attempts >= this.limits.maxWriteAttempts);
      this.remove(spent);
      if (spent.length > 0) this.lose('store_error', spent.length);
      this.failing(describeStoreError(err));
      return false;
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Takes these entries out of the queue, wherever they are (close() may have emptied it meanwhile). */
  private remove(entries: readonly Pending[]): void {
    if (entries.length === 0) return;
    const gone = new Set(entries);
    let kept = 0;
    for (const p of this.queue) if (!gone.has(p)) this.queue[kept++] = p;
    this.queue.length = kept;
  }

  private lose(reason: LostReason, n = 1): void {
    this.metrics.lost.labels(reason).inc(n);
    if (this.failingSince !== null) this.lostWhileFailing += n;
  }

  private failing(problem: { code?: string; message: string }): void {
    if (this.failingSince !== null) return;
    this.failingSince = this.now();
    this.lostWhileFailing = 0;
    this.log.warn(
      { problem, store: this.store?.kind, pending: this.queue.length, maxPending: this.limits.maxPendingRecords },
      'call records cannot be written; they wait in memory and beyond that are counted as lost (calls go on)',
    );
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.log.info(
      { failedForMs: Math.max(0, this.now() - this.failingSince), lost: this.lostWhileFailing, store: this.store?.kind },
      'call records are being written again',
    );
    this.failingSince = null;
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
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
