/**
 * The RecordStore contract against the real PostgreSQL (pg-helper.ts), one schema per test, and
 * what only PostgreSQL has: several instances on one database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { PostgresDriver } from '../../src/records/postgres-driver.js';
import { MIGRATIONS_TABLE } from '../../src/records/migrations.js';
import { storeContract } from './store-contract.js';
import { createSchema, dropSchema, PG_URL, queryIn, requirePostgres, skipPostgres } from './pg-helper.js';
import { makeRecord, sid } from './fixtures.js';

let schema = '';
let downUrl = '';

/** A URL where nothing listens (a port bound, then released). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `postgres://postgres@127.0.0.1:${port}/test`;
}

describe.skipIf(skipPostgres)('PostgreSQL record store', () => {
  beforeAll(async () => {
    requirePostgres();
    downUrl = await closedPortUrl();
  });

  storeContract({
    async fresh() {
      schema = await createSchema();
    },
    open: () => new SqlRecordStore(new PostgresDriver({ connectionString: PG_URL, schema })),
    openDown: () => new SqlRecordStore(new PostgresDriver({ connectionString: downUrl })),
    async migrationVersions() {
      return (await queryIn(schema, `SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`)).map((r) => Number(r.version));
    },
    async cleanup() {
      await dropSchema(schema);
    },
  });

  describe('shared by several instances', () => {
    let shared = '';
    beforeAll(async () => {
      shared = await createSchema();
    });
    afterAll(async () => {
      if (shared) await dropSchema(shared);
    });

    it('two instances writing the same CallSids at once leave one row each, no error', async () => {
      const a = new SqlRecordStore(new PostgresDriver({ connectionString: PG_URL, schema: shared }));
      const b = new SqlRecordStore(new PostgresDriver({ connectionString: PG_URL, schema: shared }));
      try {
        const batch = Array.from({ length: 30 }, (_, i) => makeRecord({ callSid: sid(i + 1), startedAt: 1_000_000 + i }));
        await Promise.all([a.insert(batch), b.insert([...batch].reverse()), a.insert(batch.slice(5)), b.insert(batch.slice(0, 10))]);
        const rows = await queryIn(shared, 'SELECT count(*)::int AS n, count(DISTINCT call_sid)::int AS d FROM call_records');
        expect(rows).toEqual([{ n: 30, d: 30 }]);
        expect(await b.get(sid(7))).toEqual(batch[6]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
