/**
 * openCallRecords, as buildApp will use it: the store from the settings, migrated in the
 * background, the recorder, the routes, the purge timer and close().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCallRecords } from '../../src/records/call-records.js';
import { recordSettings } from '../../src/records/settings.js';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { SqliteDriver } from '../../src/records/sqlite-driver.js';
import { DAY_MS, startPurge } from '../../src/records/purge.js';
import type { RecordStore } from '../../src/records/store.js';
import { captureLogs } from '../helpers/log-capture.js';
import { until } from '../helpers/until.js';
import { sid, T0 } from './fixtures.js';

const API_TOKEN = 'records-api-token-for-tests-0123456789';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vb-call-records-'));
  writeFileSync(join(dir, 'a-file'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openCallRecords', () => {
  it('migrates in the background, records what sessions feed, serves it, and writes what waits on close', async () => {
    const file = join(dir, 'one', 'calls.db');
    const logs = captureLogs({ logLevel: 'info' });
    const registry = new Registry();
    const records = openCallRecords({ settings: recordSettings({ CALLS_DB: file }), registry, log: logs.logger, now: () => T0 });
    await until(() => logs.records().some((r) => r.msg === 'call records ready'), 5000, 'the migration');
    expect(logs.records().find((r) => r.msg === 'call records ready')).toMatchObject({ store: 'sqlite', file, retentionDays: 30 });
    expect(await registry.metrics()).toContain('voice_bridge_call_records_lost_total{reason="overflow"} 0');

    const app = Fastify();
    records.register(app, { apiToken: API_TOKEN });
    records.recorder.begin(sid(1), { direction: 'inbound', from: '+15550000001', to: '+15550000002' });
    const live = await app.inject({ url: '/calls/live', headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(live.json()).toEqual({
      calls: [{ callSid: sid(1), direction: 'inbound', from: '+15550000001', to: '+15550000002', assistant: null, startedAt: T0, elapsedMs: 0 }],
    });
    records.recorder.turn(sid(1), { kind: 'caller', text: 'hello' });
    records.recorder.end(sid(1), { reason: 'twilio_stop' });
    await records.close();
    await app.close();

    const reopened = new SqlRecordStore(new SqliteDriver(file));
    try {
      expect(await reopened.get(sid(1))).toMatchObject({ endReason: 'twilio_stop', turns: [{ kind: 'caller', text: 'hello', at: T0 }] });
    } finally {
      await reopened.close();
    }
  });

  it('with CALL_RECORDS=off: no store, live calls still served, the history answers 404 records_off', async () => {
    const logs = captureLogs({ logLevel: 'info' });
    const records = openCallRecords({ settings: recordSettings({ CALL_RECORDS: 'off' }), registry: new Registry(), log: logs.logger });
    expect(records.store).toBeNull();
    expect(logs.records().map((r) => r.msg)).toEqual(['call records are off (CALL_RECORDS=off)']);
    const app = Fastify();
    records.register(app, { apiToken: API_TOKEN });
    const res = await app.inject({ url: '/calls', headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ reason: 'records_off' });
    await records.close();
    await app.close();
  });

  it('a database that cannot open at start is a warning, not a failed start', async () => {
    const logs = captureLogs({ logLevel: 'info' });
    const settings = recordSettings({ CALLS_DB: join(dir, 'a-file', 'calls.db') });
    const records = openCallRecords({ settings, registry: new Registry(), log: logs.logger });
    await until(() => logs.records().some((r) => r.level === 40), 5000, 'the warning');
    expect(logs.records().find((r) => r.level === 40)?.msg).toBe(
      'call-record database not ready at start; calls go on, and records are written once it answers',
    );
    await records.close(100);
  });

  it('close() never waits on a database that does not close beyond its deadlines', async () => {
    const logs = captureLogs({ logLevel: 'info' });
    const never = new Promise<never>(() => {});
    const hung = {
      kind: 'stand-in',
      migrate: async () => {},
      insert: () => never,
      close: () => never,
    } as unknown as RecordStore;
    const records = openCallRecords({ settings: recordSettings({}), store: hung, registry: new Registry(), log: logs.logger, storeCloseDeadlineMs: 50 });
    records.recorder.begin(sid(1), { direction: 'inbound' });
    await records.close(50);
    expect(logs.records().filter((r) => r.level === 40).map((r) => r.msg)).toEqual([
      'call records still unwritten at shutdown were lost',
      'the call-record database did not close in time; going on without it',
    ]);
  });
});

describe('startPurge', () => {
  it('purges what is older than the retention, again and again, and goes on after a failure', async () => {
    const cutoffs: number[] = [];
    let fail = true;
    const store = {
      kind: 'stand-in',
      purgeBefore: async (cutoff: number) => {
        cutoffs.push(cutoff);
        if (fail) {
          fail = false;
          throw new Error('database down');
        }
        return 2;
      },
    } as unknown as RecordStore;
    const logs = captureLogs({ logLevel: 'info' });
    const stop = startPurge({ store, retentionDays: 30, log: logs.logger, now: () => T0, firstDelayMs: 1, intervalMs: 5 });
    try {
      await until(() => cutoffs.length >= 3, 5000, 'three purges');
    } finally {
      stop();
    }
    expect(new Set(cutoffs)).toEqual(new Set([T0 - 30 * DAY_MS]));
    const msgs = logs.records().map((r) => r.msg);
    expect(msgs[0]).toBe('purging old call records failed; trying again at the next purge');
    expect(msgs.slice(1).every((m) => m === 'old call records purged')).toBe(true);
    expect(logs.records()[1]).toMatchObject({ deleted: 2, retentionDays: 30 });
  });
});
