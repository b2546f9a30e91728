/**
 * Call records, wired: the store the settings ask for, the recorder that sessions feed, the daily
 * purge and the API routes. `buildApp` calls `openCallRecords` once, hands `recorder` to the
 * sessions, calls `register(app, …)` and closes it on app close (after the calls have drained).
 *
 * Opening never waits on the database: the migration runs in the background (and again before
 * the first write if it failed), so a database that is down at start costs records, not the start.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { openRecordStore } from './open-store.js';
import { startPurge } from './purge.js';
import { createRecordMetrics, type RecordMetrics } from './record-metrics.js';
import { CallRecorder, CLOSE_DEADLINE_MS, type RecorderLimits } from './recorder.js';
import { registerCallRecordsRoutes } from './routes.js';
import type { RecordSettings } from './settings.js';
import { describeStoreError, type RecordStore } from './store.js';

/**
 * How long closing the store may take after the last write, ms: a PostgreSQL pool waits for a
 * hung query (up to its QUERY_TIMEOUT_MS) before it ends; app.close() has 10 s in all. @default 2000
 */
export const STORE_CLOSE_DEADLINE_MS = 2000;

export interface CallRecordsOptions {
  readonly settings: RecordSettings;
  /** The app's metrics registry (voice_bridge_call_records_* go there). */
  readonly registry: Registry;
  readonly log: Logger;
  /** Wall clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** A store instead of the one the settings name (tests). Ignored when recording is off. */
  readonly store?: RecordStore;
  readonly limits?: Partial<RecorderLimits>;
  /** @default STORE_CLOSE_DEADLINE_MS */
  readonly storeCloseDeadlineMs?: number;
}

export interface CallRecords {
  /** What sessions feed (begin, turn, usage, end); also the live calls. */
  readonly recorder: CallRecorder;
  /** null when CALL_RECORDS=off. */
  readonly store: RecordStore | null;
  readonly metrics: RecordMetrics;
  /** GET /calls, /calls/live, /calls/:callSid (none while API_TOKEN is unset). */
  register(app: FastifyInstance, auth: { apiToken: string | undefined; onBadToken?: (request: FastifyRequest) => void }): void;
  /**
   * Stops the purge, writes what waits (up to `deadlineMs`, default 3 s), then closes the store
   * (up to STORE_CLOSE_DEADLINE_MS more). Never rejects.
   */
  close(deadlineMs?: number): Promise<void>;
}

export function openCallRecords(opts: CallRecordsOptions): CallRecords {
  const { settings, log } = opts;
  const now = opts.now ?? Date.now;
  const storeCloseDeadlineMs = opts.storeCloseDeadlineMs ?? STORE_CLOSE_DEADLINE_MS;
  const metrics = createRecordMetrics(opts.registry);
  const store = settings.enabled ? (opts.store ?? openRecordStore(settings, log)) : null;
  const recorder = new CallRecorder({ store, metrics, log, now, limits: opts.limits });
  let stopPurge = (): void => {};

  if (store) {
    const where = store.kind === 'sqlite' && !opts.store ? { file: settings.sqliteFile } : {};
    store.migrate().then(
      () => log.info({ store: store.kind, ...where, retentionDays: settings.retentionDays }, 'call records ready'),
      (err: unknown) =>
        log.warn(
          { store: store.kind, ...where, problem: describeStoreError(err) },
          'call-record database not ready at start; calls go on, and records are written once it answers',
        ),
    );
    stopPurge = startPurge({ store, retentionDays: settings.retentionDays, log, now });
  } else {
    log.info('call records are off (CALL_RECORDS=off)');
  }

  return {
    recorder,
    store,
    metrics,
    register(app, auth) {
      registerCallRecordsRoutes(app, { apiToken: auth.apiToken, onBadToken: auth.onBadToken, store, live: () => recorder.live(), now });
    },
    async close(deadlineMs = CLOSE_DEADLINE_MS) {
      stopPurge();
      await recorder.close(deadlineMs);
      if (!store) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), storeCloseDeadlineMs);
      });
      const closed = store.close().then(
        () => 'closed' as const,
        (err: unknown) => {
          log.warn({ problem: describeStoreError(err) }, 'closing the call-record database failed');
          return 'failed' as const;
        },
      );
      if ((await Promise.race([closed, late])) === 'late') {
        log.warn({ deadlineMs: storeCloseDeadlineMs }, 'the call-record database did not close in time; going on without it');
      }
      clearTimeout(timer);
    },
  };
}
