/**
 * Call records end to end: real calls through the real app (fake Twilio caller, Realtime
 * stand-in) leave records in a real database — SQLite and PostgreSQL — whose turns, audio figures
 * and usage match what the peers sent; and a database that is down or hangs while calls stream
 * costs records, never audio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { until } from '../helpers/until.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { SqlRecordStore } from '../../src/records/sql-record-store.js';
import { PostgresDriver } from '../../src/records/postgres-driver.js';
import type { CallRecord } from '../../src/records/record.js';
import type { RecordStore } from '../../src/records/store.js';
import { createSchema, dropSchema, PG_URL, requirePostgres, skipPostgres } from './pg-helper.js';
import { counterValue, StandInStore } from './fixtures.js';

const API_TOKEN = 'records-api-token-0123456789abcdef';
const CALLER = '+15550001234';
const OURS = '+15550009999';
const caller = readFixture('caller-8k.ulaw').subarray(0, 8000);
const agent = readFixture('agent-8k.ulaw').subarray(0, 8000);
const USAGE = {
  total_tokens: 1250,
  input_tokens: 900,
  output_tokens: 350,
  input_token_details: { text_tokens: 100, audio_tokens: 800, cached_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0 } },
  output_token_details: { text_tokens: 50, audio_tokens: 300 },
};

const track = closeAfterEach();

/** A bridge whose call records go to `store` (a real database, or a stand-in). */
async function bridgeWith(store: RecordStore): Promise<Bridge> {
  const env = { API_TOKEN, TWILIO_PHONE_NUMBER: OURS, CALL_RECORDS: 'on' };
  // Short batches: a test waits for its records, not for the production batch window.
  return track(await startBridge(env, { deps: { records: { store, limits: { flushIntervalMs: 50 } } } }));
}

async function getRecord(b: Bridge, callSid: string): Promise<CallRecord | null> {
  const res = await fetch(`http://127.0.0.1:${b.port}/calls/${callSid}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  return res.status === 200 ? ((await res.json()) as CallRecord) : null;
}

/** One call with every kind of turn; returns its CallSid and the stats the session ended with. */
async function conversation(b: Bridge, connection = 0): Promise<{ callSid: string; stats: Record<string, unknown> }> {
  const call = await b.call({ customParameters: { direction: 'inbound', caller: CALLER } });
  const conn = await b.realtime.waitForConnection(connection);
  await conn.waitForEvent('session.update');
  await expectRelayBothWays(call, conn, caller, agent);
  conn.userTranscript('item_c1', 'I need a <b>plumber</b> today');
  const answer = await conn.sendAudio(agent.subarray(0, 1600), { chunkBytes: 800, intervalMs: 0, done: false });
  conn.agentTranscript(answer.responseId, answer.itemId, 'Sure, which day suits you?');
  conn.send({ type: 'response.done', response: { id: answer.responseId, object: 'realtime.response', status: 'completed', output: [], usage: USAGE } });
  call.dtmf('5');
  await conn.waitForEvent('conversation.item.create', (e) => JSON.stringify(e).includes('pressed 5'));
  await call.hangUp();
  await until(() => b.app.sessions.size === 0, 5000, 'the call ended');
  const ended = b.logs.records().find((r) => r.msg === 'call ended' && r.callSid === call.callSid);
  return { callSid: call.callSid, stats: ended?.stats as Record<string, unknown> };
}

function expectConversation(record: CallRecord, stats: Record<string, unknown>): void {
  expect(record).toMatchObject({ direction: 'inbound', from: CALLER, to: OURS, assistant: 'default', endReason: 'twilio_stop', turnsDropped: 0 });
  expect(record.turns.map((t) => ('text' in t ? `${t.kind}: ${t.text}` : 'digit' in t ? `${t.kind}: ${t.digit}` : t.kind))).toEqual([
    'caller: I need a <b>plumber</b> today',
    'assistant: Sure, which day suits you?',
    'dtmf: 5',
  ]);
  // The audio figures are the session's own, byte for byte.
  const dropped = stats.droppedToUpstream as { frames: number; bytes: number };
  expect(record.audio.toModel).toMatchObject({ frames: stats.framesToUpstream, bytes: stats.bytesToUpstream, droppedBytes: dropped.bytes });
  expect(record.audio.toCaller).toMatchObject({ frames: stats.framesToTwilio, bytes: stats.bytesToTwilio });
  expect(record.audio.toModel.bytes).toBeGreaterThanOrEqual(caller.length);
  expect(record.usage).toEqual({ responses: 1, input: { total: 900, text: 100, audio: 800, cached: 0 }, output: { total: 350, text: 50, audio: 300 } });
}

describe('a call leaves its record', () => {
  it('in SQLite (the default store): turns, audio figures and usage as the peers sent them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vb-records-'));
    track(() => rmSync(dir, { recursive: true, force: true }));
    const b = track(await startBridge({ API_TOKEN, TWILIO_PHONE_NUMBER: OURS, CALL_RECORDS: 'on', CALLS_DB: join(dir, 'calls.db') }));
    const { callSid, stats } = await conversation(b);
    let record: CallRecord | null = null;
    await until(async () => (record = await getRecord(b, callSid)) !== null, 10_000, 'the record in SQLite');
    expectConversation(record!, stats);
    // Transcripts are the caller's words: in the record, never in the log.
    expect(b.logs.text()).not.toContain('plumber');
  });

  describe.skipIf(skipPostgres)('in PostgreSQL (DATABASE_URL)', () => {
    let schema = '';
    beforeAll(async () => {
      requirePostgres();
      schema = await createSchema();
    });
    afterAll(async () => {
      if (schema) await dropSchema(schema);
    });

    it('the same record, read back through the API', async () => {
      const b = await bridgeWith(new SqlRecordStore(new PostgresDriver({ connectionString: PG_URL, schema })));
      const { callSid, stats } = await conversation(b);
      let record: CallRecord | null = null;
      await until(async () => (record = await getRecord(b, callSid)) !== null, 10_000, 'the record in Postgres');
      expectConversation(record!, stats);
    });
  });
});

describe('a database that is down or hangs while 20 calls stream', () => {
  /** 20 calls at once, each relaying byte for byte both ways, then hung up. */
  async function twentyCalls(b: Bridge): Promise<string[]> {
    const calls = await Promise.all(Array.from({ length: 20 }, () => b.call({ customParameters: { direction: 'inbound', caller: CALLER } })));
    const conns = await Promise.all(calls.map((_, i) => b.realtime.waitForConnection(i)));
    await Promise.all(conns.map((c) => c.waitForEvent('session.update')));
    // Each call's own upstream: pair them by CallSid (connections open in the order starts arrive).
    for (const call of calls) {
      const conn = conns[calls.indexOf(call)]!;
      await expectRelayBothWays(call, conn, caller, agent);
    }
    await Promise.all(calls.map((c) => c.hangUp()));
    await until(() => b.app.sessions.size === 0, 10_000, 'the calls ended');
    return calls.map((c) => c.callSid);
  }

  it('down: audio byte-exact, the 20 records counted as lost, one warning; recovery logged and later calls recorded', async () => {
    const store = new StandInStore();
    store.mode = 'reject';
    const b = await bridgeWith(store);
    await twentyCalls(b);
    const registry = b.app.metrics.registry;
    await until(async () => (await counterValue(registry, 'voice_bridge_call_records_lost_total', { reason: 'store_error' })) === 20, 15_000, '20 records lost');
    const warnings = b.logs.records().filter((r) => r.level === 40 && String(r.msg).includes('call record'));
    expect(warnings).toHaveLength(1);

    store.mode = 'ok';
    const { callSid } = await conversation(b, 20);
    await until(() => store.rows.has(callSid), 10_000, 'the next call recorded');
    expect(b.logs.records().some((r) => r.msg === 'call records are being written again')).toBe(true);
  });

  it('hangs: audio byte-exact meanwhile, one write outstanding; the records land once it answers', async () => {
    const store = new StandInStore();
    store.mode = 'hang';
    const b = await bridgeWith(store);
    const callSids = await twentyCalls(b);
    await until(() => store.hanging === 1, 5000, 'a write waiting on the database');
    expect(store.inserts).toBe(1); // one write outstanding: the others wait in the queue
    store.mode = 'ok';
    store.release();
    await until(() => callSids.every((sid) => store.rows.has(sid)), 15_000, 'all 20 records written');
  });
});
