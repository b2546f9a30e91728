/**
 * Shared set-up for tests against the real PostgreSQL on 127.0.0.1:5432 (trust auth, database
 * `test`; .ci/run installs and starts it).
 *
 * Without PostgreSQL these tests skip, saying why, so a laptop without it can still run the
 * suite; under CI (CI=true) they run anyway and fail, because a silent skip there would hide a
 * broken store. Each test file works in a schema of its own, dropped after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.RECORDS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function probe(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export const postgresUp = await probe();
export const skipPostgres = !postgresUp && process.env.CI !== 'true';
if (skipPostgres) {
  console.warn(`Skipping PostgreSQL call-record tests: nothing answered at ${PG_URL} (with CI=true they fail instead).`);
}

/** For a suite's first beforeAll: fails at once, saying why, when CI runs it without PostgreSQL. */
export function requirePostgres(): void {
  if (!postgresUp) throw new Error(`PostgreSQL is required under CI=true, and none answered at ${PG_URL}`);
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty schema no other run shares (plain lower-case name: safe to put in SQL as it is). */
export async function createSchema(): Promise<string> {
  const schema = `vb_records_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** Rows of a query run in `schema` (to look at what the store wrote). */
export function queryIn(schema: string, sql: string): Promise<Record<string, unknown>[]> {
  return admin(async (c) => {
    await c.query(`SET search_path TO ${schema}`);
    return (await c.query(sql)).rows as Record<string, unknown>[];
  });
}
