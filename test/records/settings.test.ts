import { describe, expect, it } from 'vitest';
import { recordSettings, RecordSettingsError } from '../../src/records/settings.js';

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    recordSettings(env);
  } catch (err) {
    if (err instanceof RecordSettingsError) return err.problems;
    throw err;
  }
  return [];
}

describe('recordSettings', () => {
  it('defaults: on, SQLite at ./data/calls.db, 30 days; frozen', () => {
    const s = recordSettings({});
    expect(s).toEqual({ enabled: true, sqliteFile: './data/calls.db', databaseUrl: undefined, retentionDays: 30 });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reads every setting', () => {
    expect(
      recordSettings({ CALL_RECORDS: 'off', CALLS_DB: ' /var/lib/vb/calls.db ', DATABASE_URL: 'postgres://u:pw@db:5432/calls', CALL_RECORDS_DAYS: '0' }),
    ).toEqual({ enabled: false, sqliteFile: '/var/lib/vb/calls.db', databaseUrl: 'postgres://u:pw@db:5432/calls', retentionDays: 0 });
    expect(recordSettings({ CALL_RECORDS: 'ON', DATABASE_URL: 'postgresql:///calls?host=/run/postgresql' }).databaseUrl).toBe(
      'postgresql:///calls?host=/run/postgresql',
    );
  });

  it('reports every problem at once, and never echoes a database URL that may hold a password', () => {
    const problems = problemsOf({ CALL_RECORDS: 'sometimes', CALL_RECORDS_DAYS: '-1', DATABASE_URL: 'db.example.com:5432 hunter2' });
    expect(problems).toEqual([
      'CALL_RECORDS must be on or off (got "sometimes")',
      'DATABASE_URL must start with postgres:// or postgresql://',
      'CALL_RECORDS_DAYS must be a whole number of days from 0 (keep forever) to 3650 (got "-1")',
    ]);
    expect(problems.join(' ')).not.toContain('hunter2');
    expect(problemsOf({ DATABASE_URL: 'mysql://u:hunter2@db/calls' })).toEqual(['DATABASE_URL must start with postgres:// or postgresql://']);
    expect(problemsOf({ DATABASE_URL: '::not a url' })).toEqual(['DATABASE_URL must be a URL such as postgres://user:password@host:5432/database']);
    expect(problemsOf({ DATABASE_URL: 'postgres:///calls' })).toEqual(['DATABASE_URL must name a host (postgres://host:5432/database)']);
    expect(problemsOf({ CALL_RECORDS_DAYS: '3651' })).toHaveLength(1);
    expect(problemsOf({ CALL_RECORDS_DAYS: '1.5' })).toHaveLength(1);
    expect(() => recordSettings({ CALL_RECORDS: 'x' })).toThrow(/Invalid call-record settings:\n {2}- CALL_RECORDS/);
  });
});
