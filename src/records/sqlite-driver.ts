/**
 * SQLite through Node's built-in node:sqlite (no native add-on to build), run in a worker thread
 * (sqlite-worker.ts) so a slow disk never stalls the event loop that carries the audio. This side
 * only posts requests and matches answers to them.
 *
 * Instances on one host may share the file (WAL, and BEGIN IMMEDIATE with a busy timeout: writers
 * queue); instances on several hosts share PostgreSQL (DATABASE_URL).
 * A worker that dies (a bug, out of memory) fails the requests it held, and the next request
 * starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { MIGRATIONS_TABLE, type Migration } from './migrations.js';
import { sqliteParams, type Row, type SqlDriver, type SqlParam, type Statement } from './sql-driver.js';

/**
 * The worker's file beside this one: `.js` when built, `.ts` when the tests run the sources
 * (Node strips its types; it imports nothing of ours, see sqlite-worker.ts).
 */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './sqlite-worker.ts' : './sqlite-worker.js', import.meta.url);

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string; code?: string; errcode?: unknown } };

interface Waiting {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private seq = 0;
  private closed = false;

  /** `file`: the database file (its directory is created), or ':memory:'. */
  constructor(private readonly file: string) {}

  query(sql: string, params: readonly SqlParam[]): Promise<Row[]> {
    return this.request({ op: 'query', sql: sqliteParams(sql), params }) as Promise<Row[]>;
  }

  execute(sql: string, params: readonly SqlParam[]): Promise<number> {
    return this.request({ op: 'execute', sql: sqliteParams(sql), params }) as Promise<number>;
  }

  async transaction(statements: readonly Statement[]): Promise<void> {
    await this.request({ op: 'transaction', statements: statements.map((s) => ({ sql: sqliteParams(s.sql), params: s.params })) });
  }

  async migrate(migrations: readonly Migration[]): Promise<void> {
    // BEGIN IMMEDIATE in the worker serialises two processes opening the same file.
    await this.request({
      op: 'migrate',
      table: MIGRATIONS_TABLE,
      migrations: migrations.map((m) => ({ version: m.version, name: m.name, sql: m.sqlite })),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const worker = this.worker;
    if (worker) {
      // Checkpoints the WAL into the file; a worker stuck in a long statement is not waited for.
      await this.request({ op: 'close' }).catch(() => {});
    }
    this.closed = true;
    this.worker = null;
    await worker?.terminate();
  }

  private request(message: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the call-record store is closed'));
    const worker = (this.worker ??= this.spawn());
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      // Held while an answer is awaited, so a pending request keeps the process alive; idle, it does not.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...message });
    });
  }

  private settle(id: number): Waiting | undefined {
    const waiting = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker?.unref();
    return waiting;
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_URL, { workerData: { file: this.file } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiting = this.settle(reply.id);
      if (!waiting) return;
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code, errcode: reply.error.errcode }));
    });
    const stopped = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      const held = [...this.waiting.values()];
      this.waiting.clear();
      for (const w of held) w.reject(err);
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`the SQLite worker stopped (exit code ${code})`)));
    return worker;
  }
}
