/** The RecordStore contract against a real SQLite file (node:sqlite, in its worker thread). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { SqliteDriver } from '../../src/records/sqlite-driver.js';
import { MIGRATIONS_TABLE } from '../../src/records/migrations.js';
import { Registry } from 'prom-client';
import { CallRecorder } from '../../src/records/recorder.js';
import { createRecordMetrics } from '../../src/records/record-metrics.js';
import { captureLogs } from '../helpers/log-capture.js';
import { until } from '../helpers/until.js';
import { storeContract, WRITE_FAILING } from './store-contract.js';
import { counterValue, makeRecord, sid } from './fixtures.js';

let dir: string;
let file: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vb-records-'));
  writeFileSync(join(dir, 'not-a-dir'), '');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite record store', () => {
  storeContract({
    async fresh() {
      file = join(dir, `t${++n}`, 'calls.db');
    },
    open: () => new SqlRecordStore(new SqliteDriver(file)),
    // A directory cannot be created under a regular file: the database can never open.
    openDown: () => new SqlRecordStore(new SqliteDriver(join(dir, 'not-a-dir', 'calls.db'))),
    async migrationVersions() {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        return db.prepare(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`).all().map((r) => Number(r.version));
      } finally {
        db.close();
      }
    },
    async cleanup() {},
  });

  it('a database that cannot open costs records until it can; then the recorder recovers', async () => {
    const blocker = join(dir, 'blocked');
    writeFileSync(blocker, ''); // a file where the database's directory should be
    const store = new SqlRecordStore(new SqliteDriver(join(blocker, 'calls.db')));
    const registry = new Registry();
    const logs = captureLogs({ logLevel: 'info' });
    const recorder = new CallRecorder({ store, metrics: createRecordMetrics(registry), log: logs.logger, limits: { flushIntervalMs: 10, maxWriteAttempts: 1 } });
    try {
      for (let i = 0; i < 20; i++) {
        recorder.begin(sid(i), { direction: 'inbound' });
        recorder.end(sid(i), { reason: 'twilio_stop' });
      }
      await until(async () => (await counterValue(registry, 'voice_bridge_call_records_lost_total', { reason: 'store_error' })) === 20, 10_000, 'lost');
      rmSync(blocker);
      recorder.begin(sid(20), { direction: 'inbound' });
      recorder.end(sid(20), { reason: 'twilio_stop' });
      await until(() => logs.records().some((r) => r.msg === 'call records are being written again'), 10_000, 'recovery');
      expect(await store.get(sid(20))).toMatchObject({ callSid: sid(20), endReason: 'twilio_stop' });
      expect(logs.records().filter((r) => r.level === 40).map((r) => r.msg)).toEqual([WRITE_FAILING]);
    } finally {
      await recorder.close();
      await store.close();
    }
  });

  it('creates the database file and its directory', async () => {
    const path = join(dir, 'fresh', 'nested', 'calls.db');
    const store = new SqlRecordStore(new SqliteDriver(path));
    try {
      await store.insert([makeRecord()]);
      expect(existsSync(path)).toBe(true);
    } finally {
      await store.close();
    }
    // Closed: a request fails, it does not hang.
    await expect(store.list({ limit: 1 })).rejects.toThrow(/closed/);
  });
});
