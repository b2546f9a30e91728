/**
 * What sql-record-store.ts needs from a database: a few calls, written once for both SQLite and
 * PostgreSQL. SQL is written with PostgreSQL's numbered parameters (`$1`); the SQLite driver turns
 * them into SQLite's `?1`, which binds the same way (by position, reusable).
 */
import type { Migration } from './migrations.js';

export type SqlParam = string | number | null;
export type Row = Record<string, unknown>;

export interface Statement {
  readonly sql: string;
  readonly params: readonly SqlParam[];
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  query(sql: string, params: readonly SqlParam[]): Promise<Row[]>;
  /** Runs one statement; resolves to the number of rows it changed. */
  execute(sql: string, params: readonly SqlParam[]): Promise<number>;
  /** Runs the statements in one transaction: all or none. */
  transaction(statements: readonly Statement[]): Promise<void>;
  /**
   * Applies the migrations not yet in MIGRATIONS_TABLE, in one transaction, holding a lock that
   * makes a second migrator (another instance starting at the same moment) wait and then find
   * them applied.
   */
  migrate(migrations: readonly Migration[]): Promise<void>;
  close(): Promise<void>;
}

/** `$1` → `?1`: the same SQL text for SQLite. (Our statements have no `$` in string literals.) */
export function sqliteParams(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}
