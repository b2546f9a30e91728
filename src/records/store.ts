/**
 * Where records are kept: one small interface, two implementations over the same schema
 * (sqlite-driver.ts by default, postgres-driver.ts when DATABASE_URL is set; both through
 * sql-record-store.ts). Every method may fail (the database is another process or a disk); the
 * recorder and the routes turn failures into counted losses and 503s, never into a crash.
 */
import type { CallDirection, CallRecord, CallSummary } from './record.js';

/** A position in the history, newest first: the last call of the page before. */
export interface Cursor {
  readonly startedAt: number;
  readonly callSid: string;
}

export interface ListQuery {
  /** 1 to MAX_LIST_LIMIT. */
  readonly limit: number;
  /** Only calls that sort after this one (older, or as old with a smaller CallSid). */
  readonly before?: Cursor;
  readonly direction?: CallDirection;
  /** Digits that the `from` or `to` number contains. */
  readonly number?: string;
}

export interface ListPage {
  readonly calls: readonly CallSummary[];
  /** Where the next page starts, or null when this one is the last. */
  readonly next: Cursor | null;
}

export interface RecordStore {
  /** 'sqlite' or 'postgres' (for the start-up line and the logs). */
  readonly kind: string;
  /** Applies the migrations not applied yet; safe to run twice, and from two instances at once. */
  migrate(): Promise<void>;
  /** Writes the records in one transaction; a CallSid written before is replaced (upsert). */
  insert(records: readonly CallRecord[]): Promise<void>;
  /** Newest first: by startedAt, then CallSid, both descending. */
  list(query: ListQuery): Promise<ListPage>;
  get(callSid: string): Promise<CallRecord | null>;
  /** Deletes the calls that started before `cutoffMs` (ms since the epoch); resolves to how many. */
  purgeBefore(cutoffMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Refused without asking the database: MAX_PENDING_QUERIES were already waiting on it. */
export class StoreBusyError extends Error {
  readonly code = 'store_busy';
  constructor(limit: number) {
    super(`${limit} database requests are already waiting`);
  }
}

/**
 * What may be logged about a store failure: the driver's error code and its primary message
 * (cut), never `detail`/`where` or the statement, which can quote a caller's transcript.
 */
export function describeStoreError(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message.slice(0, 200) : String(err).slice(0, 200);
  return typeof e?.code === 'string' || typeof e?.code === 'number' ? { code: String(e.code), message } : { message };
}
