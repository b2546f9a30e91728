/**
 * The daily purge: calls that started more than CALL_RECORDS_DAYS ago are deleted, once soon
 * after start and then every PURGE_INTERVAL_MS. The timer is unref'd (it never keeps the process
 * alive). With several instances on one PostgreSQL each purges; the DELETE is the same, so
 * running it twice does no harm.
 */
import type { Logger } from 'pino';
import { describeStoreError, type RecordStore } from './store.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** How often the purge runs, ms. @default one day */
export const PURGE_INTERVAL_MS = DAY_MS;
/** The first purge, after start (let the migration and the first calls go first), ms. @default 60 000 */
export const FIRST_PURGE_DELAY_MS = 60_000;

export interface PurgeOptions {
  readonly store: RecordStore;
  /** 0: keep records forever (no timer). */
  readonly retentionDays: number;
  readonly log: Logger;
  /** Wall clock, ms since the epoch. */
  readonly now: () => number;
  readonly firstDelayMs?: number;
  readonly intervalMs?: number;
}

/** Deletes what is older than the retention once; resolves to how many, or null when it failed (logged). */
export async function purgeOnce(opts: Pick<PurgeOptions, 'store' | 'retentionDays' | 'log' | 'now'>): Promise<number | null> {
  const cutoff = opts.now() - opts.retentionDays * DAY_MS;
  try {
    const deleted = await opts.store.purgeBefore(cutoff);
    if (deleted > 0) opts.log.info({ deleted, retentionDays: opts.retentionDays }, 'old call records purged');
    return deleted;
  } catch (err) {
    opts.log.warn({ problem: describeStoreError(err) }, 'purging old call records failed; trying again at the next purge');
    return null;
  }
}

/** Starts the purge timer; returns the function that stops it. */
export function startPurge(opts: PurgeOptions): () => void {
  if (opts.retentionDays <= 0) return () => {};
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const schedule = (ms: number): void => {
    timer = setTimeout(() => {
      void purgeOnce(opts).then(() => {
        if (!stopped) schedule(opts.intervalMs ?? PURGE_INTERVAL_MS);
      });
    }, ms);
    timer.unref();
  };
  schedule(opts.firstDelayMs ?? FIRST_PURGE_DELAY_MS);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
