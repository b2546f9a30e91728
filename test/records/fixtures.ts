/** Call records for the store and API tests. */
import type { Registry } from 'prom-client';
import type { CallRecord } from '../../src/records/record.js';

/** A CallSid in Twilio's shape: CA + 32 hex digits, `n` in the last ones. */
export function sid(n: number): string {
  return 'CA' + n.toString(16).padStart(32, '0');
}

export const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);

/** A complete record: every turn kind, audio both ways, usage. */
export function makeRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  const startedAt = overrides.startedAt ?? T0;
  return {
    callSid: sid(1),
    direction: 'inbound',
    from: '+15551230001',
    to: '+15559870000',
    assistant: null,
    startedAt,
    endedAt: startedAt + 42_000,
    durationMs: 42_000,
    endReason: 'twilio_stop',
    turns: [
      { kind: 'assistant', at: startedAt + 500, text: 'Hello, how can I help?' },
      { kind: 'caller', at: startedAt + 3000, text: 'I would like to book a table — für zwei, s\'il vous plaît 🍽️' },
      { kind: 'barge_in', at: startedAt + 3100 },
      { kind: 'dtmf', at: startedAt + 5000, digit: '#' },
      { kind: 'tool_call', at: startedAt + 6000, name: 'end_call', arguments: '{"reason":"done"}', outcome: '{"ok":true}' },
    ],
    turnsDropped: 0,
    audio: {
      toModel: { frames: 410, bytes: 328_000, droppedFrames: 2, droppedBytes: 1600, discardedBytes: 160 },
      toCaller: { frames: 120, bytes: 96_000, droppedFrames: 0, droppedBytes: 0, discardedBytes: 3200 },
    },
    usage: { responses: 3, input: { total: 900, text: 300, audio: 600, cached: 128 }, output: { total: 700, text: 100, audio: 600 } },
    ...overrides,
  };
}

/** The summary GET /calls lists for `record`. */
export function summaryOf(record: CallRecord): Omit<CallRecord, 'turns'> & { turnCount: number } {
  const { turns, ...rest } = record;
  return { ...rest, turnCount: turns.length };
}

/** A counter's value for one label set (0 when absent). */
export async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}
