/**
 * The call-record schema, as numbered migrations applied in order at start (each once, recorded
 * in MIGRATIONS_TABLE). Never edit a released migration: add the next number.
 *
 * Names carry a prefix (`call_records`, `voice_bridge_schema_migrations`) because DATABASE_URL may
 * point at a database that other applications use, where `calls` or a Rails-style
 * `schema_migrations` table could already exist with another shape.
 *
 * One row per call, its turns in a JSON column rather than a table of their own: a record is
 * written whole, once (an upsert of one row is atomic and idempotent, with no child rows to delete
 * and insert again when a second instance or a retry writes the same CallSid), it is always read
 * whole (GET /calls/:callSid), and its size is bounded by the recorder's per-call limits. The
 * history lists columns only and never reads the JSON. Should transcripts ever be searched in SQL,
 * PostgreSQL's jsonb can be indexed, or a later migration can add a turns table.
 *
 * Times are integers (ms since the epoch), the same in both databases, so the cursor compares
 * exactly. `call_sid` sorts by bytes in both (SQLite's BINARY, PostgreSQL's "C" collation), so the
 * pages are the same whichever database holds them.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

export const MIGRATIONS_TABLE = 'voice_bridge_schema_migrations';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'call_records',
    sqlite: `
      CREATE TABLE call_records (
        call_sid      TEXT PRIMARY KEY,
        direction     TEXT NOT NULL,
        from_number   TEXT,
        to_number     TEXT,
        assistant     TEXT,
        started_at    INTEGER NOT NULL,
        ended_at      INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        end_reason    TEXT NOT NULL,
        turn_count    INTEGER NOT NULL,
        turns_dropped INTEGER NOT NULL,
        audio         TEXT NOT NULL,
        usage         TEXT NOT NULL,
        turns         TEXT NOT NULL
      );
      CREATE INDEX call_records_newest ON call_records (started_at DESC, call_sid DESC);
    `,
    postgres: `
      CREATE TABLE call_records (
        call_sid      TEXT COLLATE "C" PRIMARY KEY,
        direction     TEXT NOT NULL,
        from_number   TEXT,
        to_number     TEXT,
        assistant     TEXT,
        started_at    BIGINT NOT NULL,
        ended_at      BIGINT NOT NULL,
        duration_ms   BIGINT NOT NULL,
        end_reason    TEXT NOT NULL,
        turn_count    INTEGER NOT NULL,
        turns_dropped INTEGER NOT NULL,
        audio         JSONB NOT NULL,
        usage         JSONB NOT NULL,
        turns         JSONB NOT NULL
      );
      CREATE INDEX call_records_newest ON call_records (started_at DESC, call_sid DESC);
    `,
  },
];
