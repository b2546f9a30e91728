/**
 * Call-record settings from the environment, parsed once into a frozen object (to be folded into
 * config.ts). Every problem is reported in one error.
 *
 * | variable            | default          |
 * | CALL_RECORDS        | on (off: no recording; GET /calls and /calls/:callSid answer 404) |
 * | CALLS_DB            | ./data/calls.db  (SQLite file; its directory is created) |
 * | DATABASE_URL        | unset (set: PostgreSQL instead of SQLite) |
 * | CALL_RECORDS_DAYS   | 30 (records older than this are purged daily; 0 keeps them) |
 */

export interface RecordSettings {
  readonly enabled: boolean;
  /** The SQLite file, used when `databaseUrl` is unset. */
  readonly sqliteFile: string;
  /** postgres:// or postgresql:// URL; a credential: never log it. */
  readonly databaseUrl: string | undefined;
  /** Days a record is kept; 0: forever. */
  readonly retentionDays: number;
}

export const DEFAULT_CALLS_DB = './data/calls.db';
export const DEFAULT_RETENTION_DAYS = 30;
/** Longest retention accepted, in days (ten years). */
export const MAX_RETENTION_DAYS = 3650;

export class RecordSettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid call-record settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RecordSettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const given = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

export function recordSettings(env: Env = process.env): RecordSettings {
  const problems: string[] = [];

  let enabled = true;
  if (given(env.CALL_RECORDS)) {
    const text = env.CALL_RECORDS.trim().toLowerCase();
    if (['off', 'false', '0', 'no'].includes(text)) enabled = false;
    else if (!['on', 'true', '1', 'yes'].includes(text)) problems.push(`CALL_RECORDS must be on or off (got "${env.CALL_RECORDS.trim()}")`);
  }

  const sqliteFile = given(env.CALLS_DB) ? env.CALLS_DB.trim() : DEFAULT_CALLS_DB;

  let databaseUrl: string | undefined;
  if (given(env.DATABASE_URL)) {
    const text = env.DATABASE_URL.trim();
    let parsed: URL | null = null;
    try {
      parsed = new URL(text);
    } catch {
      // Not echoed: the URL may carry a password.
      problems.push('DATABASE_URL must be a URL such as postgres://user:password@host:5432/database');
    }
    if (parsed && parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      // Nothing of the value echoed, not even the scheme: a mistyped URL can start with a secret.
      problems.push('DATABASE_URL must start with postgres:// or postgresql://');
    } else if (parsed && parsed.hostname === '' && !parsed.searchParams.has('host')) {
      problems.push('DATABASE_URL must name a host (postgres://host:5432/database)');
    } else if (parsed) {
      databaseUrl = text;
    }
  }

  let retentionDays = DEFAULT_RETENTION_DAYS;
  if (given(env.CALL_RECORDS_DAYS)) {
    const text = env.CALL_RECORDS_DAYS.trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > MAX_RETENTION_DAYS) {
      problems.push(`CALL_RECORDS_DAYS must be a whole number of days from 0 (keep forever) to ${MAX_RETENTION_DAYS} (got "${text}")`);
    } else retentionDays = n;
  }

  if (problems.length > 0) throw new RecordSettingsError(problems);
  return Object.freeze({ enabled, sqliteFile, databaseUrl, retentionDays });
}
