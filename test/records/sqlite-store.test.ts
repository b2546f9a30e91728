/** The RecordStore contract against a real SQLite file (node:sqlite, in its worker thread). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { SqliteDriver } from '../../src/records/sqlite-driver.js';
import { MIGRATIONS_TABLE } from '../../src/records/migrations.js';
import { storeContract } from './store-contract.js';
import { makeRecord } from './fixtures.js';

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
