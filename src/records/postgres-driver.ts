/**
 * PostgreSQL through `pg`, for DATABASE_URL. Several instances share one database: writes are
 * upserts per CallSid, and migrations run under a transaction-scoped advisory lock, so instances
 * starting together apply each migration once.
 *
 * Every wait is bounded, so a down or hung server fails requests instead of holding them: the
 * connect (CONNECT_TIMEOUT_MS), each query (QUERY_TIMEOUT_MS, client side, and the same
 * statement_timeout on the server so it stops the work too) and the pool (POOL_MAX connections).
 */
import pg from 'pg';
import { MIGRATIONS_TABLE, type Migration } from './migrations.js';
import type { Row, SqlDriver, SqlParam, Statement } from './sql-driver.js';

/** Connections per instance: one writer and a few API readers. @default 4 */
export const POOL_MAX = 4;
/** Longest wait for a connection, ms. @default 3000 */
export const CONNECT_TIMEOUT_MS = 3000;
/** Longest query, ms (a page of history takes ~1 ms; a purge of a month of calls, well under this). @default 10 000 */
export const QUERY_TIMEOUT_MS = 10_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresOptions {
  readonly connectionString: string;
  /** Tables go in this schema (search_path); tests use one per file. @default the server's search_path */
  readonly schema?: string;
  /** An idle pooled connection failed (the server restarted): logged by the caller; the pool replaces it. */
  readonly onIdleError?: (err: Error) => void;
}

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(opts: PostgresOptions) {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) throw new Error(`not a plain schema name: ${opts.schema}`);
    this.pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: POOL_MAX,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      statement_timeout: QUERY_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
      application_name: 'voice-bridge',
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    // Without a listener, an idle client's error (server restart) would be an uncaught exception.
    this.pool.on('error', (err) => opts.onIdleError?.(err));
  }

  async query(sql: string, params: readonly SqlParam[]): Promise<Row[]> {
    const result = await this.pool.query(sql, [...params]);
    return result.rows as Row[];
  }

  async execute(sql: string, params: readonly SqlParam[]): Promise<number> {
    const result = await this.pool.query(sql, [...params]);
    return result.rowCount ?? 0;
  }

  transaction(statements: readonly Statement[]): Promise<void> {
    return this.inTransaction(async (client) => {
      for (const s of statements) await client.query(s.sql, [...s.params]);
    });
  }

  migrate(migrations: readonly Migration[]): Promise<void> {
    return this.inTransaction(async (client) => {
      // Taken first, before even the bookkeeping table is created: two concurrent
      // CREATE TABLE IF NOT EXISTS can both fail on PostgreSQL's catalog. One lock per schema;
      // released by the COMMIT or ROLLBACK.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1 || coalesce(current_schema(), '')))`, [`${MIGRATIONS_TABLE}:`]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
      );
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
      const applied = new Set(rows.map((r) => Number(r.version)));
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await client.query(m.postgres);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async inTransaction(fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await fn(client);
      await client.query('COMMIT');
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      // A client that failed mid-transaction (a timeout may leave it mid-query) is not reused.
      client.release(broken);
    }
  }
}
