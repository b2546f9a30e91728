/**
 * The store the settings ask for: PostgreSQL when DATABASE_URL is set, else the SQLite file
 * CALLS_DB. Opening connects nothing yet: the first request (the migration at start) does, so a
 * database that is down at start costs records, not the start.
 */
import type { Logger } from 'pino';
import { PostgresDriver } from './postgres-driver.js';
import type { RecordSettings } from './settings.js';
import { SqlRecordStore } from './sql-record-store.js';
import { SqliteDriver } from './sqlite-driver.js';
import { describeStoreError, type RecordStore } from './store.js';

export function openRecordStore(settings: Pick<RecordSettings, 'sqliteFile' | 'databaseUrl'>, log: Logger): RecordStore {
  if (settings.databaseUrl) {
    return new SqlRecordStore(
      new PostgresDriver({
        connectionString: settings.databaseUrl,
        onIdleError: (err) => log.warn({ problem: describeStoreError(err) }, 'call-record database connection lost; reconnecting on the next write'),
      }),
    );
  }
  return new SqlRecordStore(new SqliteDriver(settings.sqliteFile));
}
