/**
 * The behaviour every RecordStore must have, run against real SQLite (sqlite-store.test.ts) and
 * real PostgreSQL (postgres-store.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { RecordStore } from '../../src/records/store.js';
import { MIGRATIONS } from '../../src/records/migrations.js';
import { CallRecorder } from '../../src/records/recorder.js';
import { createRecordMetrics } from '../../src/records/record-metrics.js';
import { MAX_TURN_TEXT_CHARS, type CallRecord } from '../../src/records/record.js';
import { recordUsage } from '../../src/records/usage.js';
import { captureLogs } from '../helpers/log-capture.js';
import { until } from '../helpers/until.js';
import { counterValue, makeRecord, sid, summaryOf, T0 } from './fixtures.js';

/** The recorder's one warn line when writes start failing. */
export const WRITE_FAILING = 'call records cannot be written; they wait in memory and beyond that are counted as lost (calls go on)';

export interface StoreHarness {
  /** Before each test: a new, empty database. */
  fresh(): Promise<void>;
  /** A store on this test's database (call again for a second instance on the same database). */
  open(): RecordStore;
  /** A store whose database cannot be reached or opened. */
  openDown(): RecordStore;
  /** Rows in the migrations table, by version. */
  migrationVersions(): Promise<number[]>;
  /** After each test (the stores are closed already). */
  cleanup(): Promise<void>;
}

export function storeContract(h: StoreHarness): void {
  const opened: RecordStore[] = [];
  const open = (): RecordStore => {
    const store = h.open();
    opened.push(store);
    return store;
  };

  beforeEach(() => h.fresh());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await h.cleanup();
  });

  it('a record with its turns round-trips', async () => {
    const store = open();
    const record = makeRecord();
    await store.insert([record]);
    expect(await store.get(record.callSid)).toEqual(record);
    expect(await store.get(sid(999))).toBeNull();
  });

  it('stores what the recorder was fed, peer text made storable', async () => {
    const store = open();
    const registry = new Registry();
    const logs = captureLogs({ logLevel: 'info' });
    const recorder = new CallRecorder({ store, metrics: createRecordMetrics(registry), log: logs.logger, limits: { flushIntervalMs: 10 } });
    const callSid = sid(7);
    recorder.begin(callSid, { direction: 'browser', from: 'browser', to: '  +15550000007 ', startedAt: T0 });
    recorder.turn(callSid, { kind: 'assistant', text: 'Hi!', at: T0 + 10 });
    recorder.turn(callSid, { kind: 'caller', text: 'a\u0000b \ud800 c', at: T0 + 20 });
    recorder.turn(callSid, { kind: 'caller', text: 'x'.repeat(MAX_TURN_TEXT_CHARS + 5), at: T0 + 30 });
    recorder.turn(callSid, { kind: 'dtmf', digit: '5', at: T0 + 40 });
    recorder.turn(callSid, { kind: 'dtmf', digit: 'not a key', at: T0 + 41 });
    recorder.turn(callSid, { kind: 'tool_call', name: 'transfer_call', arguments: { to: '+1555' }, outcome: { ok: false, error: 'no' }, at: T0 + 50 });
    const stats = {
      framesToUpstream: 3,
      bytesToUpstream: 2400,
      framesToTwilio: 2,
      bytesToTwilio: 1600,
      droppedToUpstream: { frames: 1, bytes: 800 },
      droppedToTwilio: { frames: 0, bytes: 0 },
      discardedToUpstream: 100,
      discardedToTwilio: 200,
    };
    // The session's tally over two responses (usage/call-usage.ts).
    const usage = recordUsage({ inputText: 2, inputAudio: 8, inputCachedText: 1, inputCachedAudio: 0, outputText: 0, outputAudio: 2 }, 2);
    recorder.end(callSid, { reason: 'twilio_stop', endedAt: T0 + 61_000, stats, usage });
    await until(async () => (await counterValue(registry, 'voice_bridge_call_records_written_total')) === 1, 5000, 'the record written');

    const expected: CallRecord = {
      callSid,
      direction: 'browser',
      from: 'browser',
      to: '+15550000007',
      assistant: null,
      startedAt: T0,
      endedAt: T0 + 61_000,
      durationMs: 61_000,
      endReason: 'twilio_stop',
      turns: [
        { kind: 'assistant', at: T0 + 10, text: 'Hi!' },
        { kind: 'caller', at: T0 + 20, text: 'a\uFFFDb \uFFFD c' },
        { kind: 'caller', at: T0 + 30, text: 'x'.repeat(MAX_TURN_TEXT_CHARS) },
        { kind: 'dtmf', at: T0 + 40, digit: '5' },
        { kind: 'dtmf', at: T0 + 41, digit: '?' },
        { kind: 'tool_call', at: T0 + 50, name: 'transfer_call', arguments: '{"to":"+1555"}', outcome: '{"ok":false,"error":"no"}' },
      ],
      turnsDropped: 0,
      audio: {
        toModel: { frames: 3, bytes: 2400, droppedFrames: 1, droppedBytes: 800, discardedBytes: 100 },
        toCaller: { frames: 2, bytes: 1600, droppedFrames: 0, droppedBytes: 0, discardedBytes: 200 },
      },
      usage: { responses: 2, input: { total: 11, text: 3, audio: 8, cached: 1 }, output: { total: 2, text: 0, audio: 2 } },
    };
    expect(await store.get(callSid)).toEqual(expected);
    await recorder.close();
    expect(logs.records().filter((r) => (r.level as number) >= 40)).toEqual([]);
  });

  it('lists newest first, a page at a time, by cursor (ties broken by CallSid)', async () => {
    const store = open();
    // Seven calls; three start in the same millisecond.
    const records = [0, 1, 2, 2, 2, 3, 4].map((minute, i) => makeRecord({ callSid: sid(100 + i), startedAt: T0 + minute * 60_000 }));
    await store.insert(records.slice(0, 4));
    await store.insert(records.slice(4));
    const newestFirst = [...records].sort((a, b) => b.startedAt - a.startedAt || (a.callSid < b.callSid ? 1 : -1)).map(summaryOf);

    const seen: unknown[] = [];
    let page = await store.list({ limit: 3 });
    seen.push(...page.calls);
    while (page.next) {
      expect(page.calls).toHaveLength(3);
      page = await store.list({ limit: 3, before: page.next });
      seen.push(...page.calls);
    }
    expect(seen).toEqual(newestFirst);
    expect(page.calls).toHaveLength(1);

    // Exactly a page's worth left: no empty page after it.
    const all = await store.list({ limit: 7 });
    expect(all.calls).toEqual(newestFirst);
    expect(all.next).toBeNull();
  });

  it('filters by direction and by digits of either number, and pages within the filter', async () => {
    const store = open();
    const records = [
      makeRecord({ callSid: sid(1), startedAt: T0 + 1, direction: 'inbound', from: '+15551110001', to: '+15559990000' }),
      makeRecord({ callSid: sid(2), startedAt: T0 + 2, direction: 'outbound', from: '+15559990000', to: '+15552220002' }),
      makeRecord({ callSid: sid(3), startedAt: T0 + 3, direction: 'inbound', from: '+15552220002', to: '+15559990000' }),
      makeRecord({ callSid: sid(4), startedAt: T0 + 4, direction: 'browser', from: null, to: null }),
      makeRecord({ callSid: sid(5), startedAt: T0 + 5, direction: 'inbound', from: '+15553330003', to: '+15559990000' }),
    ];
    await store.insert(records);
    const sids = (page: { calls: readonly { callSid: string }[] }): string[] => page.calls.map((c) => c.callSid);

    expect(sids(await store.list({ limit: 10, direction: 'inbound' }))).toEqual([sid(5), sid(3), sid(1)]);
    expect(sids(await store.list({ limit: 10, number: '2220002' }))).toEqual([sid(3), sid(2)]);
    expect(sids(await store.list({ limit: 10, number: '15552220002', direction: 'outbound' }))).toEqual([sid(2)]);
    expect(sids(await store.list({ limit: 10, number: '4444' }))).toEqual([]);

    const first = await store.list({ limit: 2, direction: 'inbound' });
    expect(sids(first)).toEqual([sid(5), sid(3)]);
    expect(first.next).toEqual({ startedAt: T0 + 3, callSid: sid(3) });
    const second = await store.list({ limit: 2, direction: 'inbound', before: first.next! });
    expect(sids(second)).toEqual([sid(1)]);
    expect(second.next).toBeNull();
  });

  it('writing a CallSid again replaces its record (upsert), also twice in one batch', async () => {
    const store = open();
    const first = makeRecord();
    await store.insert([first]);
    await store.insert([first]);
    const changed = makeRecord({ endReason: 'upstream_closed', turns: first.turns.slice(0, 1), turnsDropped: 4 });
    await store.insert([first, changed]);
    expect(await store.get(first.callSid)).toEqual(changed);
    const page = await store.list({ limit: 10 });
    expect(page.calls).toEqual([summaryOf(changed)]);
  });

  it('purges the calls that started before the cutoff, and only those', async () => {
    const store = open();
    const day = 24 * 60 * 60 * 1000;
    const old = makeRecord({ callSid: sid(1), startedAt: T0 - 40 * day });
    const edge = makeRecord({ callSid: sid(2), startedAt: T0 - 30 * day });
    const recent = makeRecord({ callSid: sid(3), startedAt: T0 - day });
    await store.insert([old, edge, recent]);
    expect(await store.purgeBefore(T0 - 30 * day)).toBe(1);
    expect(await store.get(old.callSid)).toBeNull();
    expect((await store.list({ limit: 10 })).calls.map((c) => c.callSid)).toEqual([sid(3), sid(2)]);
    expect(await store.purgeBefore(T0 - 30 * day)).toBe(0);
  });

  it('migrating from several stores at once on a new database, and again, applies each migration once', async () => {
    // Instances starting together on one empty database: each migrates before its first write.
    const stores = [open(), open(), open(), open(), open()];
    await Promise.all(stores.map((s) => s.migrate()));
    expect(await h.migrationVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    const again = open();
    await again.migrate();
    await again.migrate();
    expect(await h.migrationVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((s, i) => s.insert([makeRecord({ callSid: sid(i + 1) })])));
    expect((await again.list({ limit: 10 })).calls).toHaveLength(stores.length);
  });

  it('a database that is down fails requests, and the recorder counts the records as lost', async () => {
    const store = h.openDown();
    opened.push(store);
    await expect(store.list({ limit: 1 })).rejects.toThrow();
    const registry = new Registry();
    const logs = captureLogs({ logLevel: 'info' });
    const recorder = new CallRecorder({
      store,
      metrics: createRecordMetrics(registry),
      log: logs.logger,
      limits: { flushIntervalMs: 10, maxWriteAttempts: 1 },
    });
    for (let i = 0; i < 20; i++) {
      recorder.begin(sid(i), { direction: 'inbound', from: '+15550000000', to: '+15551111111' });
      recorder.turn(sid(i), { kind: 'caller', text: 'my card number is 4111 1111 1111 1111' });
      recorder.end(sid(i), { reason: 'twilio_stop' });
    }
    await until(async () => (await counterValue(registry, 'voice_bridge_call_records_lost_total', { reason: 'store_error' })) === 20, 10_000, '20 records lost');
    const warns = logs.records().filter((r) => r.level === 40);
    expect(warns.map((r) => r.msg)).toEqual([WRITE_FAILING]);
    expect(logs.text()).not.toContain('4111');
    await recorder.close();
  });
}
