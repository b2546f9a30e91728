/**
 * The call-record API through a real Fastify instance listening on 127.0.0.1:0, over a real SQLite
 * store: auth (the shared API-token hook), pagination, filters, 404/400, live calls, and a
 * database that does not answer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCallRecordsRoutes, type CallRecordsRoutesOptions } from '../../src/records/routes.js';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { SqliteDriver } from '../../src/records/sqlite-driver.js';
import { MAX_LIST_LIMIT } from '../../src/records/list-query.js';
import type { ListPage, RecordStore } from '../../src/records/store.js';
import type { CallRecord } from '../../src/records/record.js';
import { makeRecord, sid, summaryOf, T0 } from './fixtures.js';

const API_TOKEN = 'records-api-token-for-tests-0123456789';
const AUTH = { authorization: `Bearer ${API_TOKEN}` };

let dir: string;
let store: SqlRecordStore;
let app: FastifyInstance | undefined;
let base = '';
const records: CallRecord[] = [
  makeRecord({ callSid: sid(1), startedAt: T0 + 1000, direction: 'inbound', from: '+15551110001' }),
  makeRecord({ callSid: sid(2), startedAt: T0 + 2000, direction: 'outbound', from: '+15559870000', to: '+15552220002' }),
  makeRecord({ callSid: sid(3), startedAt: T0 + 3000, direction: 'browser', from: 'browser', to: null }),
  makeRecord({ callSid: sid(4), startedAt: T0 + 4000, direction: 'inbound', from: '+15552220002' }),
  makeRecord({ callSid: sid(5), startedAt: T0 + 5000, direction: 'inbound', from: '+15553330003' }),
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vb-records-api-'));
  store = new SqlRecordStore(new SqliteDriver(join(dir, 'calls.db')));
  await store.insert(records);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function serve(opts: Partial<CallRecordsRoutesOptions> = {}): Promise<void> {
  app = Fastify();
  registerCallRecordsRoutes(app, { apiToken: API_TOKEN, store, live: () => [], now: () => T0 + 60_000, ...opts });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
}

async function get(path: string, headers: Record<string, string> = AUTH): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(base + path, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const newestFirst = [...records].reverse();

describe('GET /calls, /calls/:callSid, /calls/live', () => {
  it('answer 401 without the API token and with a wrong one; only a wrong one is reported to the guard', async () => {
    const reported: string[] = [];
    await serve({ onBadToken: (request: FastifyRequest) => reported.push(request.url) });
    for (const path of ['/calls', `/calls/${sid(1)}`, '/calls/live']) {
      const none = await get(path, {});
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ error: 'Unauthorized', reason: 'missing_token', message: 'send Authorization: Bearer <API_TOKEN>' });
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="voice-bridge"');
      const wrong = await get(path, { authorization: `Bearer ${API_TOKEN}x` });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({ reason: 'bad_token' });
      expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect((await get(path, { authorization: `Basic ${API_TOKEN}` })).status).toBe(401);
    }
    expect(reported).toEqual(['/calls', `/calls/${sid(1)}`, '/calls/live']);
  });

  it('do not exist while API_TOKEN is unset', async () => {
    await serve({ apiToken: undefined });
    expect((await get('/calls')).status).toBe(404);
    expect((await get(`/calls/${sid(1)}`)).status).toBe(404);
  });

  it('list newest first, a page at a time: `next` is the next page\'s `before`', async () => {
    await serve();
    const first = await get('/calls?limit=2');
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body.calls).toEqual(newestFirst.slice(0, 2).map(summaryOf));
    expect(first.body.next).toBe(`${T0 + 4000}.${sid(4)}`);
    const second = await get(`/calls?limit=2&before=${first.body.next as string}`);
    expect(second.body.calls).toEqual(newestFirst.slice(2, 4).map(summaryOf));
    const third = await get(`/calls?limit=2&before=${second.body.next as string}`);
    expect(third.body).toEqual({ calls: [summaryOf(records[0]!)], next: null });
    // The default page holds them all.
    expect((await get('/calls')).body).toEqual({ calls: newestFirst.map(summaryOf), next: null });
  });

  it('filter by direction and by number (+ encoded, or turned into a space by a plain query string)', async () => {
    await serve();
    const sids = async (query: string): Promise<string[]> =>
      ((await get(`/calls?${query}`)).body.calls as { callSid: string }[]).map((c) => c.callSid);
    expect(await sids('direction=inbound')).toEqual([sid(5), sid(4), sid(1)]);
    expect(await sids('number=%2B15552220002')).toEqual([sid(4), sid(2)]);
    expect(await sids('number=+15552220002')).toEqual([sid(4), sid(2)]);
    expect(await sids('number=2220002&direction=outbound')).toEqual([sid(2)]);
    expect(await sids('number=0003&limit=1')).toEqual([sid(5)]);
  });

  it('refuse bad parameters with 400 and the reason', async () => {
    await serve();
    const cases: [string, RegExp][] = [
      ['limit=0', /limit must be a whole number from 1 to 200/],
      [`limit=${MAX_LIST_LIMIT + 1}`, /limit/],
      ['limit=ten', /limit/],
      ['limit=1&limit=2', /limit may be given once/],
      ['before=yesterday', /before must be the "next" value/],
      [`before=${T0}.CA-1`, /before/],
      ['direction=sideways', /direction must be one of inbound, outbound, browser/],
      ['number=call-me', /number must be 1 to 20 digits/],
      ['number=', /number/],
      ['limt=5', /unknown parameter "limt"/],
    ];
    for (const [query, message] of cases) {
      const res = await get(`/calls?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body, query).toMatchObject({ error: 'Bad Request', reason: 'invalid_query' });
      expect(res.body.message, query).toMatch(message);
    }
  });

  it('one call with its turns; 404 for an unknown CallSid, 400 for a malformed one', async () => {
    await serve();
    const found = await get(`/calls/${sid(3)}`);
    expect(found.status).toBe(200);
    expect(found.body).toEqual(records[2]);
    expect(found.headers.get('cache-control')).toBe('no-store');

    const unknown = await get(`/calls/${sid(99)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'Not Found', reason: 'unknown_call', message: 'no record of this call' });

    for (const bad of ['CA-12', 'CA%20x', 'C'.repeat(65), '%E2%98%83']) {
      const res = await get(`/calls/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body, bad).toMatchObject({ error: 'Bad Request', reason: 'invalid_call_sid' });
    }
  });

  it('live calls, newest first, with their elapsed time (also while recording is off)', async () => {
    const live = [
      { callSid: sid(7), direction: 'inbound' as const, from: '+15550000007', to: '+15559870000', assistant: null, startedAt: T0 + 30_000 },
      { callSid: sid(8), direction: 'browser' as const, from: 'browser', to: null, assistant: 'front-desk', startedAt: T0 + 50_000 },
    ];
    await serve({ store: null, live: () => live });
    const res = await get('/calls/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      calls: [
        { ...live[1], elapsedMs: 10_000 },
        { ...live[0], elapsedMs: 30_000 },
      ],
    });
    const off = await get('/calls');
    expect(off.status).toBe(404);
    expect(off.body).toEqual({ error: 'Not Found', reason: 'records_off', message: 'call records are off (CALL_RECORDS=off)' });
    expect((await get(`/calls/${sid(1)}`)).body).toMatchObject({ reason: 'records_off' });
  });

  it('answer 503 when the database does not answer in time, or fails', async () => {
    const never = new Promise<never>(() => {});
    const hung: RecordStore = {
      kind: 'stand-in',
      migrate: () => never,
      insert: () => never,
      list: (): Promise<ListPage> => never,
      get: () => never,
      purgeBefore: () => never,
      close: async () => {},
    };
    await serve({ store: hung, readTimeoutMs: 50 });
    for (const path of ['/calls', `/calls/${sid(1)}`]) {
      const res = await get(path);
      expect(res.status, path).toBe(503);
      expect(res.body).toEqual({
        error: 'Service Unavailable',
        reason: 'store_unavailable',
        message: 'the call-record database is not answering; try again shortly',
      });
      expect(res.headers.get('retry-after')).toBe('5');
    }
    await app!.close();
    await serve({ store: { ...hung, list: () => Promise.reject(new Error('connection refused')) } });
    expect((await get('/calls')).status).toBe(503);
  });
});
