/**
 * The SQLite side of sqlite-driver.ts, in a worker thread. node:sqlite is synchronous: run on the
 * main thread, a slow disk (an fsync at commit, a long purge, a page of history) would stall the
 * event loop that relays every call's audio. Here it stalls only this thread.
 *
 * A small executor: it knows SQL, transactions and the migration bookkeeping, not call records
 * (the SQL comes from the main thread). It imports nothing of ours, so the same file runs built
 * (dist/records/sqlite-worker.js) and as TypeScript source under the tests (Node strips the
 * types); keep it to erasable syntax.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

/** How long a write waits for another connection's lock (another process on the same file), ms. */
const BUSY_TIMEOUT_MS = 5000;
/** Prepared statements kept for reuse; the store uses a dozen shapes. */
const MAX_CACHED_STATEMENTS = 64;

type Params = readonly SQLInputValue[];
type Request =
  | { id: number; op: 'query'; sql: string; params: Params }
  | { id: number; op: 'execute'; sql: string; params: Params }
  | { id: number; op: 'transaction'; statements: { sql: string; params: Params }[] }
  | { id: number; op: 'migrate'; table: string; migrations: { version: number; name: string; sql: string }[] }
  | { id: number; op: 'close' };

const { file } = workerData as { file: string };
const port = parentPort!;
let db: DatabaseSync | null = null;
let closed = false;
const statements = new Map<string, StatementSync>();

function open(): DatabaseSync {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  // The busy timeout first: switching to WAL takes a lock that another process opening the same
  // new file at the same moment may hold.
  const opened = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    // WAL: readers (the API) do not wait for the writer; NORMAL: a commit does not wait for an
    // fsync of the log (a power cut may lose the last commits, never corrupt the file).
    opened.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  } catch (err) {
    opened.close();
    throw err;
  }
  return opened;
}

/** The open database; opened on first use, and again by the next request after a failed open. */
function database(): DatabaseSync {
  if (closed) throw new Error('the database is closed');
  db ??= open();
  return db;
}

function prepared(sql: string): StatementSync {
  let stmt = statements.get(sql);
  if (!stmt) {
    if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
    stmt = database().prepare(sql);
    statements.set(sql, stmt);
  }
  return stmt;
}

/** Runs `fn` in a write transaction (taken at once, so two writers queue rather than deadlock). */
function inTransaction(fn: (d: DatabaseSync) => void): void {
  const d = database();
  d.exec('BEGIN IMMEDIATE');
  try {
    fn(d);
    d.exec('COMMIT');
  } catch (err) {
    // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR): the first error is the one to report.
    try {
      d.exec('ROLLBACK');
    } catch {
      // nothing left to roll back
    }
    throw err;
  }
}

function handle(req: Request): unknown {
  switch (req.op) {
    case 'query':
      return prepared(req.sql).all(...req.params);
    case 'execute':
      return Number(prepared(req.sql).run(...req.params).changes);
    case 'transaction':
      inTransaction(() => {
        for (const s of req.statements) prepared(s.sql).run(...s.params);
      });
      return null;
    case 'migrate':
      inTransaction((d) => {
        d.exec(`CREATE TABLE IF NOT EXISTS ${req.table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
        const applied = new Set(d.prepare(`SELECT version FROM ${req.table}`).all().map((r) => Number(r.version)));
        for (const m of req.migrations) {
          if (applied.has(m.version)) continue;
          d.exec(m.sql);
          d.prepare(`INSERT INTO ${req.table} (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, Date.now());
        }
      });
      // The schema may have changed under the cached statements.
      statements.clear();
      return null;
    case 'close':
      closed = true;
      statements.clear();
      db?.close();
      db = null;
      return null;
  }
}

port.on('message', (req: Request) => {
  try {
    port.postMessage({ id: req.id, ok: true, result: handle(req) });
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown; errcode?: unknown };
    port.postMessage({
      id: req.id,
      ok: false,
      error: { message: String(e.message ?? err), code: typeof e.code === 'string' ? e.code : undefined, errcode: e.errcode },
    });
  }
});
