/**
 * The RecordStore over SQL, the same statements for SQLite and PostgreSQL (see migrations.ts for
 * the schema and sql-driver.ts for the two drivers).
 *
 * Migrations run before the first request and again after a failed attempt, so an instance that
 * starts while its database is down records again once the database is back. Requests waiting on
 * the database are bounded (MAX_PENDING_QUERIES); one more is refused at once (StoreBusyError)
 * instead of queueing without end behind a hung server.
 */
import { MIGRATIONS } from './migrations.js';
import type { CallAudio, CallDirection, CallRecord, CallSummary, TokenUsage, Turn } from './record.js';
import type { Row, SqlDriver, SqlParam, Statement } from './sql-driver.js';
import { StoreBusyError, type ListPage, type ListQuery, type RecordStore } from './store.js';

/** Store requests waiting on the database at once (the recorder's one write plus API reads). @default 64 */
export const MAX_PENDING_QUERIES = 64;

const SUMMARY_COLUMNS =
  'call_sid, direction, from_number, to_number, assistant, started_at, ended_at, duration_ms, end_reason, turn_count, turns_dropped, audio, usage';

const UPSERT = `
  INSERT INTO call_records (
    call_sid, direction, from_number, to_number, assistant, started_at, ended_at, duration_ms,
    end_reason, turn_count, turns_dropped, audio, usage, turns
  ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  ON CONFLICT (call_sid) DO UPDATE SET
    direction = excluded.direction, from_number = excluded.from_number, to_number = excluded.to_number,
    assistant = excluded.assistant, started_at = excluded.started_at, ended_at = excluded.ended_at,
    duration_ms = excluded.duration_ms, end_reason = excluded.end_reason, turn_count = excluded.turn_count,
    turns_dropped = excluded.turns_dropped, audio = excluded.audio, usage = excluded.usage, turns = excluded.turns`;

export class SqlRecordStore implements RecordStore {
  readonly kind: string;
  private waiting = 0;
  private migrated: Promise<void> | null = null;

  constructor(private readonly driver: SqlDriver) {
    this.kind = driver.dialect;
  }

  migrate(): Promise<void> {
    // One attempt at a time; a failed one is forgotten, so the next request tries again.
    this.migrated ??= this.driver.migrate(MIGRATIONS).catch((err: unknown) => {
      this.migrated = null;
      throw err;
    });
    return this.migrated;
  }

  insert(records: readonly CallRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.bounded(() => this.driver.transaction(lockOrder(records).map(upsert)));
  }

  list(query: ListQuery): Promise<ListPage> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    const param = (value: SqlParam): string => `$${params.push(value)}`;
    if (query.before) {
      const t = param(query.before.startedAt);
      where.push(`(started_at < ${t} OR (started_at = ${t} AND call_sid < ${param(query.before.callSid)}))`);
    }
    if (query.direction) where.push(`direction = ${param(query.direction)}`);
    if (query.number) {
      // Digits only (list-query.ts), so nothing in it is a LIKE wildcard.
      const n = param(`%${query.number}%`);
      where.push(`(from_number LIKE ${n} OR to_number LIKE ${n})`);
    }
    // One more than the page: whether it exists says whether there is a next page.
    const sql =
      `SELECT ${SUMMARY_COLUMNS} FROM call_records` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY started_at DESC, call_sid DESC LIMIT ${param(query.limit + 1)}`;
    return this.bounded(async () => {
      const rows = await this.driver.query(sql, params);
      const calls = rows.slice(0, query.limit).map(summaryOf);
      const last = calls.at(-1);
      return { calls, next: rows.length > query.limit && last ? { startedAt: last.startedAt, callSid: last.callSid } : null };
    });
  }

  get(callSid: string): Promise<CallRecord | null> {
    return this.bounded(async () => {
      const rows = await this.driver.query(`SELECT ${SUMMARY_COLUMNS}, turns FROM call_records WHERE call_sid = $1`, [callSid]);
      const row = rows[0];
      if (!row) return null;
      const { turnCount: _turnCount, ...summary } = summaryOf(row);
      return { ...summary, turns: json(row.turns) as Turn[] };
    });
  }

  purgeBefore(cutoffMs: number): Promise<number> {
    return this.bounded(() => this.driver.execute('DELETE FROM call_records WHERE started_at < $1', [Math.floor(cutoffMs)]));
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  private async bounded<T>(fn: () => Promise<T>): Promise<T> {
    if (this.waiting >= MAX_PENDING_QUERIES) throw new StoreBusyError(MAX_PENDING_QUERIES);
    this.waiting += 1;
    try {
      await this.migrate();
      return await fn();
    } finally {
      this.waiting -= 1;
    }
  }
}

/**
 * One record per CallSid (the last given wins), in CallSid order. Two instances (or a retry beside
 * a late write) upserting overlapping batches then lock the rows in the same order, so one waits
 * for the other instead of both failing with a deadlock (PostgreSQL 40P01).
 */
function lockOrder(records: readonly CallRecord[]): CallRecord[] {
  const last = new Map<string, CallRecord>();
  for (const r of records) last.set(r.callSid, r);
  // Plain code-unit order: ASCII CallSids sort as the "C" collation sorts them.
  return [...last.values()].sort((a, b) => (a.callSid < b.callSid ? -1 : a.callSid > b.callSid ? 1 : 0));
}

function upsert(r: CallRecord): Statement {
  return {
    sql: UPSERT,
    params: [
      r.callSid,
      r.direction,
      r.from,
      r.to,
      r.assistant,
      r.startedAt,
      r.endedAt,
      r.durationMs,
      r.endReason,
      r.turns.length,
      r.turnsDropped,
      JSON.stringify(r.audio),
      JSON.stringify(r.usage),
      JSON.stringify(r.turns),
    ],
  };
}

/*
 * Rows come from our own tables, written by upsert() above: their shape is ours, so they are
 * mapped, not validated. PostgreSQL hands BIGINT as text and jsonb parsed; SQLite hands numbers
 * and JSON as text.
 */
function summaryOf(row: Row): CallSummary {
  return {
    callSid: String(row.call_sid),
    direction: String(row.direction) as CallDirection,
    from: nullableText(row.from_number),
    to: nullableText(row.to_number),
    assistant: nullableText(row.assistant),
    startedAt: Number(row.started_at),
    endedAt: Number(row.ended_at),
    durationMs: Number(row.duration_ms),
    endReason: String(row.end_reason),
    turnCount: Number(row.turn_count),
    turnsDropped: Number(row.turns_dropped),
    audio: json(row.audio) as CallAudio,
    usage: json(row.usage) as TokenUsage,
  };
}

function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function json(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}
