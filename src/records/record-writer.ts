/**
 * Finished records on their way to the store: a bounded queue, written in batches off the
 * caller's stack, one write at a time.
 *
 * Writes run on a timer (flushIntervalMs after the first waiting record) or as soon as a batch
 * is full, never inside `enqueue`. A database that fails or hangs costs records, never the
 * caller: a failed batch is retried up to maxWriteAttempts times, new records wait (up to
 * maxPendingRecords, then each one more is lost: overflow), one warn line says writing started
 * failing and one info line says it recovered and how many were lost meanwhile. Only one write is
 * ever outstanding, so a hung database cannot pile up queries behind it.
 */
import type { Logger } from 'pino';
import type { CallRecord } from './record.js';
import type { LostReason, RecordMetrics } from './record-metrics.js';
import { describeStoreError, type RecordStore } from './store.js';

export interface WriterLimits {
  /** Finished records waiting for the database; one more is lost (overflow). @default 500 */
  readonly maxPendingRecords: number;
  /** Records per write (one transaction); a full batch is written at once. @default 50 */
  readonly batchRecords: number;
  /**
   * Characters of text per write, roughly (a batch holds at least one record): bounds the main
   * thread's work per write (serialising, handing to the driver) to about a millisecond, however
   * long the calls were. @default 262 144
   */
  readonly batchChars: number;
  /** How long a record waits for its batch to fill before it is written anyway, ms. @default 1000 */
  readonly flushIntervalMs: number;
  /** A write with no answer after this long counts as failing (warned once), ms. @default 5000 */
  readonly writeTimeoutMs: number;
  /** Failed writes of one batch before its records are given up (lost: store_error). @default 3 */
  readonly maxWriteAttempts: number;
}

export const WRITER_LIMITS: WriterLimits = Object.freeze({
  maxPendingRecords: 500,
  batchRecords: 50,
  batchChars: 256 * 1024,
  flushIntervalMs: 1000,
  writeTimeoutMs: 5000,
  maxWriteAttempts: 3,
});

interface Pending {
  readonly record: CallRecord;
  /** Its text, roughly, in characters (recordChars). */
  readonly chars: number;
  attempts: number;
}

/** Characters a record's JSON takes, roughly: its texts plus a fixed allowance for the rest. */
function recordChars(record: CallRecord): number {
  let chars = 1024;
  for (const t of record.turns) {
    chars += 64;
    if (t.kind === 'caller' || t.kind === 'assistant') chars += t.text.length;
    else if (t.kind === 'tool_call') chars += t.name.length + t.arguments.length + t.outcome.length;
  }
  return chars;
}

export interface RecordWriterOptions {
  readonly store: RecordStore;
  readonly metrics: RecordMetrics;
  readonly log: Logger;
  /** Wall clock, ms (how long writes failed). */
  readonly now: () => number;
  readonly limits: WriterLimits;
}

export class RecordWriter {
  private readonly store: RecordStore;
  private readonly metrics: RecordMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limits: WriterLimits;
  private readonly queue: Pending[] = [];
  /** The write in progress (at most one), resolving to whether it succeeded. */
  private writing: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** When writes started failing (ms), or null while they succeed. */
  private failingSince: number | null = null;
  private lostWhileFailing = 0;
  private closed = false;

  constructor(opts: RecordWriterOptions) {
    this.store = opts.store;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.now = opts.now;
    this.limits = opts.limits;
  }

  /** Records not yet written. */
  get pending(): number {
    return this.queue.length;
  }

  enqueue(record: CallRecord): void {
    if (this.closed) {
      this.lose('shutdown');
      return;
    }
    if (this.queue.length >= this.limits.maxPendingRecords) {
      this.lose('overflow');
      this.failing({ message: `${this.limits.maxPendingRecords} records are already waiting for the database` });
      return;
    }
    this.queue.push({ record, chars: recordChars(record), attempts: 0 });
    if (this.queue.length >= this.limits.batchRecords) this.flushSoon();
    else this.arm();
  }

  /** Writes what waits until it is written or `deadlineMs` has passed; what is left is lost (shutdown). */
  async close(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    if (this.queue.length === 0) return;
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
    // A write still outstanding may yet land; its records then count as written as well as lost.
    const left = this.queue.splice(0).length;
    if (left > 0) {
      this.lose('shutdown', left);
      this.log.warn({ lost: left, deadlineMs }, 'call records still unwritten at shutdown were lost');
    }
  }

  /** Writes in flushIntervalMs, unless a write or a timer is already on its way. */
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
    const batch = this.nextBatch();
    if (batch.length === 0) return Promise.resolve(true);
    const writing = this.write(batch).then((ok) => {
      this.writing = null;
      if (this.queue.length === 0 || this.closed) return ok;
      // After a success, a full batch goes at once; after a failure, the retry waits for the timer.
      if (ok && this.queue.length >= this.limits.batchRecords) this.flushSoon();
      else this.arm();
      return ok;
    });
    this.writing = writing;
    return writing;
  }

  /** The oldest records, up to batchRecords and (after the first) batchChars. */
  private nextBatch(): Pending[] {
    const batch: Pending[] = [];
    let chars = 0;
    for (const p of this.queue) {
      if (batch.length >= this.limits.batchRecords || (batch.length > 0 && chars + p.chars > this.limits.batchChars)) break;
      batch.push(p);
      chars += p.chars;
    }
    return batch;
  }

  /** Never rejects: a failure is counted and logged here. */
  private async write(batch: Pending[]): Promise<boolean> {
    let settled = false;
    const watchdog = setTimeout(() => {
      if (!settled) this.failing({ message: `no answer within ${this.limits.writeTimeoutMs} ms` });
    }, this.limits.writeTimeoutMs);
    watchdog.unref();
    try {
      await this.store.insert(batch.map((p) => p.record));
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
      { problem, store: this.store.kind, pending: this.queue.length, maxPending: this.limits.maxPendingRecords },
      'call records cannot be written; they wait in memory and beyond that are counted as lost (calls go on)',
    );
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.log.info(
      { failedForMs: Math.max(0, this.now() - this.failingSince), lost: this.lostWhileFailing, store: this.store.kind },
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
}
