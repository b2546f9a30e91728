/**
 * The recorder with stand-in stores that fail, throw or hang while calls are fed: nothing reaches
 * the caller, losses are counted by reason, one warn line when writing starts failing and one
 * info line when it recovers, and never more than one write outstanding.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { CallRecorder, type RecorderLimits } from '../../src/records/recorder.js';
import { createRecordMetrics } from '../../src/records/record-metrics.js';
import type { CallRecord } from '../../src/records/record.js';
import type { ListPage, RecordStore } from '../../src/records/store.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { until } from '../helpers/until.js';
import { counterValue, sid, T0 } from './fixtures.js';
import { WRITE_FAILING } from './store-contract.js';

const RECOVERED = 'call records are being written again';
const SECRET_WORDS = 'my PIN is 4 7 1 1';

/** A store in memory that can be told to fail, throw or hang. */
class StandInStore implements RecordStore {
  readonly kind = 'stand-in';
  mode: 'ok' | 'reject' | 'throw' | 'hang' = 'ok';
  readonly rows = new Map<string, CallRecord>();
  inserts = 0;
  private readonly hung: (() => void)[] = [];

  get hanging(): number {
    return this.hung.length;
  }

  async migrate(): Promise<void> {}

  insert(records: readonly CallRecord[]): Promise<void> {
    this.inserts += 1;
    const write = (): void => {
      for (const r of records) this.rows.set(r.callSid, r);
    };
    switch (this.mode) {
      case 'throw':
        throw new Error('the driver threw');
      case 'reject':
        // As pg reports a failed statement: `detail` may quote the data.
        return Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED', detail: SECRET_WORDS }));
      case 'hang':
        return new Promise((resolve) => this.hung.push(() => (write(), resolve())));
      case 'ok':
        write();
        return Promise.resolve();
    }
  }

  /** Lets every hung write finish (successfully). */
  release(): void {
    for (const finish of this.hung.splice(0)) finish();
  }

  async list(): Promise<ListPage> {
    return { calls: [], next: null };
  }
  async get(callSid: string): Promise<CallRecord | null> {
    return this.rows.get(callSid) ?? null;
  }
  async purgeBefore(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
}

let recorder: CallRecorder | undefined;
let logs: LogCapture;
let registry: Registry;

afterEach(async () => {
  await recorder?.close(100);
  recorder = undefined;
});

function makeRecorder(store: RecordStore | null, limits: Partial<RecorderLimits> = {}, now?: () => number): CallRecorder {
  registry = new Registry();
  logs = captureLogs({ logLevel: 'info' });
  recorder = new CallRecorder({ store, metrics: createRecordMetrics(registry), log: logs.logger, limits, now });
  return recorder;
}

/** A whole call as a session reports it. */
function feedCall(r: CallRecorder, n: number): void {
  const callSid = sid(n);
  r.begin(callSid, { direction: 'inbound', from: '+15550000001', to: '+15550000002' });
  r.turn(callSid, { kind: 'assistant', text: 'Hello' });
  r.turn(callSid, { kind: 'caller', text: SECRET_WORDS });
  r.turn(callSid, { kind: 'barge_in' });
  r.end(callSid, { reason: 'twilio_stop' });
}

const lost = (reason: string): Promise<number> => counterValue(registry, 'voice_bridge_call_records_lost_total', { reason });
const written = (): Promise<number> => counterValue(registry, 'voice_bridge_call_records_written_total');
const lines = (msg: string): Record<string, unknown>[] => logs.records().filter((r) => r.msg === msg);

describe('CallRecorder', () => {
  it('20 calls while the store fails: nothing thrown, records counted as lost, one warn; recovery logged', async () => {
    const store = new StandInStore();
    store.mode = 'reject';
    const r = makeRecorder(store, { flushIntervalMs: 10, maxWriteAttempts: 2 });
    expect(() => {
      for (let i = 0; i < 20; i++) feedCall(r, i);
    }).not.toThrow();
    await until(async () => (await lost('store_error')) === 20, 5000, '20 records lost');
    // One batch of 20, tried twice, then given up.
    expect(store.inserts).toBe(2);
    expect(lines(WRITE_FAILING)).toHaveLength(1);
    expect(lines(WRITE_FAILING)[0]).toMatchObject({ level: 40, problem: { code: 'ECONNREFUSED', message: 'connection refused' } });

    store.mode = 'ok';
    for (let i = 20; i < 25; i++) feedCall(r, i);
    await until(async () => (await written()) === 5, 5000, '5 records written');
    expect([...store.rows.keys()]).toEqual([20, 21, 22, 23, 24].map(sid));
    expect(lines(RECOVERED)).toEqual([expect.objectContaining({ level: 30, lost: 20 })]);
    expect(lines(WRITE_FAILING)).toHaveLength(1);
    expect(logs.text()).not.toContain(SECRET_WORDS);
  });

  it('a hung store: one write outstanding, new records wait up to the limit, the overflow is counted', async () => {
    const store = new StandInStore();
    store.mode = 'hang';
    const r = makeRecorder(store, { maxPendingRecords: 10, batchRecords: 5, flushIntervalMs: 10, writeTimeoutMs: 50 });
    for (let i = 0; i < 5; i++) feedCall(r, i);
    await until(() => lines(WRITE_FAILING).length === 1, 5000, 'the write to time out');
    expect(lines(WRITE_FAILING)[0]).toMatchObject({ problem: { message: 'no answer within 50 ms' } });

    // 5 more fit beside the 5 being written; the last 10 overflow.
    for (let i = 5; i < 20; i++) feedCall(r, i);
    expect(await lost('overflow')).toBe(10);
    expect(r.pending).toBe(10);
    expect(store.inserts).toBe(1);
    expect(store.hanging).toBe(1);

    store.mode = 'ok';
    store.release();
    await until(async () => (await written()) === 10, 5000, 'the 10 kept records written');
    expect([...store.rows.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => sid(i)));
    expect(lines(RECOVERED)).toEqual([expect.objectContaining({ lost: 10 })]);
    expect(lines(WRITE_FAILING)).toHaveLength(1);
    expect(await lost('store_error')).toBe(0);
  });

  it('a store that throws instead of rejecting costs the same: counted, never thrown', async () => {
    const store = new StandInStore();
    store.mode = 'throw';
    const r = makeRecorder(store, { flushIntervalMs: 10, maxWriteAttempts: 1 });
    for (let i = 0; i < 3; i++) feedCall(r, i);
    await until(async () => (await lost('store_error')) === 3, 5000, '3 records lost');
    expect(lines(WRITE_FAILING)).toHaveLength(1);
  });

  it('a full batch is written at once, without waiting for the timer', async () => {
    const store = new StandInStore();
    const r = makeRecorder(store, { batchRecords: 5, flushIntervalMs: 600_000 });
    for (let i = 0; i < 5; i++) feedCall(r, i);
    expect(store.inserts).toBe(0); // never inside the caller's stack
    await until(() => store.rows.size === 5, 5000, 'the batch written');
    expect(store.inserts).toBe(1);
  });

  it('a batch holds at most batchChars of text (at least one record), so one write is never huge', async () => {
    const store = new StandInStore();
    const r = makeRecorder(store, { batchChars: 3000, flushIntervalMs: 10 });
    for (let i = 0; i < 3; i++) {
      r.begin(sid(i), { direction: 'inbound' });
      r.turn(sid(i), { kind: 'caller', text: 'y'.repeat(2000) });
      r.end(sid(i), { reason: 'twilio_stop' });
    }
    await until(() => store.rows.size === 3, 5000, 'three records written');
    expect(store.inserts).toBe(3);
  });

  it('close() writes what waits and records calls still open; what it cannot write by its deadline is lost', async () => {
    const store = new StandInStore();
    const r = makeRecorder(store, { flushIntervalMs: 600_000 }, () => T0 + 5000);
    feedCall(r, 1);
    r.begin(sid(2), { direction: 'outbound', to: '+15550000009', startedAt: T0 });
    await r.close();
    expect(store.rows.get(sid(1))?.endReason).toBe('twilio_stop');
    expect(store.rows.get(sid(2))).toMatchObject({ endReason: 'recorder_closed', durationMs: 5000, direction: 'outbound' });
    // After close, nothing more is recorded.
    r.begin(sid(3), { direction: 'inbound' });
    r.end(sid(3), { reason: 'twilio_stop' });
    expect(r.live()).toEqual([]);
    expect(store.rows.has(sid(3))).toBe(false);

    const hung = new StandInStore();
    hung.mode = 'hang';
    const h = makeRecorder(hung, { flushIntervalMs: 600_000 });
    for (let i = 0; i < 3; i++) feedCall(h, i);
    await h.close(50);
    expect(await lost('shutdown')).toBe(3);
    expect(lines('call records still unwritten at shutdown were lost')).toEqual([expect.objectContaining({ lost: 3, level: 40 })]);
    expect(h.pending).toBe(0);
  });

  it('per-call limits: turns past them are counted in the record and the metric, the record is kept', async () => {
    const store = new StandInStore();
    const r = makeRecorder(store, { maxTurns: 3, maxTextChars: 10 });
    r.begin(sid(1), { direction: 'inbound' });
    r.turn(sid(1), { kind: 'caller', text: '12345' });
    r.turn(sid(1), { kind: 'assistant', text: '123456' }); // 11 characters in all: over maxTextChars
    r.turn(sid(1), { kind: 'assistant', text: '1234' });
    r.turn(sid(1), { kind: 'dtmf', digit: '1' });
    r.turn(sid(1), { kind: 'dtmf', digit: '2' }); // the 4th: over maxTurns
    r.end(sid(1), { reason: 'twilio_stop' });
    await r.close();
    const record = store.rows.get(sid(1))!;
    expect(record.turns.map((t) => t.kind)).toEqual(['caller', 'assistant', 'dtmf']);
    expect(record.turnsDropped).toBe(2);
    expect(await counterValue(registry, 'voice_bridge_call_record_turns_dropped_total', { reason: 'text_limit' })).toBe(1);
    expect(await counterValue(registry, 'voice_bridge_call_record_turns_dropped_total', { reason: 'turn_limit' })).toBe(1);
  });

  it('a begin past MAX_OPEN_CALLS is counted (too_many_open) and warned once; a second begin does not replace the first', async () => {
    const r = makeRecorder(new StandInStore(), { maxOpenCalls: 2 });
    r.begin(sid(1), { direction: 'inbound', from: '+1' });
    r.begin(sid(1), { direction: 'outbound', from: '+2' });
    r.begin(sid(2), { direction: 'inbound' });
    r.begin(sid(3), { direction: 'inbound' });
    r.begin(sid(4), { direction: 'inbound' });
    expect(await lost('too_many_open')).toBe(2);
    expect(r.live().map((c) => [c.callSid, c.direction, c.from])).toEqual([
      [sid(1), 'inbound', '+1'],
      [sid(2), 'inbound', null],
    ]);
    expect(logs.records().filter((l) => l.level === 40)).toHaveLength(1);
  });

  it('with recording off (no store) it still knows the live calls, and keeps nothing else', async () => {
    const r = makeRecorder(null, {}, () => T0);
    r.begin(sid(1), { direction: 'browser', from: 'browser', to: null, assistant: 'front-desk' });
    r.begin(sid(2), { direction: 'inbound', startedAt: T0 - 1000 });
    r.turn(sid(1), { kind: 'caller', text: 'hello' });
    expect(r.live()).toEqual([
      { callSid: sid(1), direction: 'browser', from: 'browser', to: null, assistant: 'front-desk', startedAt: T0 },
      { callSid: sid(2), direction: 'inbound', from: null, to: null, assistant: null, startedAt: T0 - 1000 },
    ]);
    r.end(sid(1), { reason: 'twilio_stop' });
    expect(r.live().map((c) => c.callSid)).toEqual([sid(2)]);
    expect(r.pending).toBe(0);
    for (const reason of ['overflow', 'store_error', 'shutdown', 'too_many_open']) expect(await lost(reason)).toBe(0);
  });

  it('input that breaks the recorder is contained: the caller sees nothing, one error line without the data', () => {
    const r = makeRecorder(new StandInStore());
    r.begin(sid(1), { direction: 'inbound' });
    const broken = { kind: 'caller', text: undefined } as unknown as { kind: 'caller'; text: string };
    expect(() => {
      r.turn(sid(1), broken);
      r.turn(sid(1), broken);
    }).not.toThrow();
    expect(logs.records().filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['call recorder fault; the call goes on']);
    expect(() => r.end(sid(1), { reason: 'twilio_stop' })).not.toThrow();
  });
});
