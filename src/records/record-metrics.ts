/**
 * The recorder's metrics, registered on the app's prom-client registry (one per app, so tests and
 * several apps in one process never share figures). Recording is not on the audio path: a few
 * increments per call, so plain prom-client counters are cheap enough here.
 */
import { Counter, type Registry } from 'prom-client';

/** Why a record was lost (bounded: these are label values). */
export const LOST_REASONS = [
  'overflow', // MAX_PENDING_RECORDS were already waiting for the database
  'too_many_open', // MAX_OPEN_CALLS calls were already being recorded (a begin without its end?)
  'store_error', // the database refused or failed the write MAX_WRITE_ATTEMPTS times
  'shutdown', // still unwritten when close() gave up, or ended after it
] as const;
export type LostReason = (typeof LOST_REASONS)[number];

/** Why a turn was left out of its record (the record itself is kept). */
export const TURN_DROP_REASONS = ['turn_limit', 'text_limit'] as const;
export type TurnDropReason = (typeof TURN_DROP_REASONS)[number];

export interface RecordMetrics {
  readonly lost: Counter<'reason'>;
  readonly written: Counter;
  readonly turnsDropped: Counter<'reason'>;
}

export function createRecordMetrics(registry: Registry): RecordMetrics {
  const lost = new Counter({
    name: 'voice_bridge_call_records_lost_total',
    help: 'Call records never written to the database, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const written = new Counter({
    name: 'voice_bridge_call_records_written_total',
    help: 'Call records written to the database (a rewrite of the same CallSid counts again)',
    registers: [registry],
  });
  const turnsDropped = new Counter({
    name: 'voice_bridge_call_record_turns_dropped_total',
    help: 'Turns left out of a call record because the call passed a per-call limit, by limit',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Every series exists from the start at 0, so an alert on increase() sees the first loss.
  for (const reason of LOST_REASONS) lost.labels(reason).inc(0);
  for (const reason of TURN_DROP_REASONS) turnsDropped.labels(reason).inc(0);
  return { lost, written, turnsDropped };
}
