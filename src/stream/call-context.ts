/**
 * What the parts of one call share: its identity, settings, counters, logger, clock and fault
 * boundary. The session makes one per call and hands it to the Twilio side, the upstream side and
 * the assistant's audio; none of them reaches back into the session.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { CallStats } from './call-stats.js';
import type { Contain } from './fault-boundary.js';
import type { LogBudget } from './log-budget.js';

export interface CallContext {
  readonly callSid: string;
  readonly config: Config;
  readonly metrics: Metrics;
  /** The call's one set of counters (the app's metrics read them too). */
  readonly stats: CallStats;
  /** Lines written for what a peer sends: a few of each kind per call. */
  readonly logBudget: LogBudget;
  /** The call's logger; gains the streamSid when the stream starts. */
  log: Logger;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  /**
   * Every entry point into this call (listeners, timers, turns, tool callbacks) runs through this:
   * what it throws ends this call with `internal_error` and never reaches the process.
   */
  readonly contain: Contain;
  /** setTimeout through the boundary. */
  readonly setTimer: (fn: () => void, ms: number) => NodeJS.Timeout;
  /** setImmediate through the boundary. */
  readonly setTurn: (fn: () => void) => NodeJS.Immediate;
}
