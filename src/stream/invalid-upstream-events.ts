/**
 * What one call does with invalid Realtime events: count each in
 * `realtime_invalid_events_total{type,reason}` and log the first of each (type, reason) once per
 * call, at warn, naming the field. Then the event is ignored and the call goes on: a peer that
 * sends junk at audio rate costs a counter increment per message, not a log line.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { InvalidEventReason, InvalidEventType } from './realtime-validate.js';

export class InvalidUpstreamEvents {
  /** `type reason` pairs already logged (at most 11 types × 8 reasons). */
  readonly #logged = new Set<string>();
  readonly #metrics: Pick<Metrics, 'realtimeInvalidEvents'>;

  constructor(metrics: Pick<Metrics, 'realtimeInvalidEvents'>) {
    this.#metrics = metrics;
  }

  record(log: Logger, invalid: { readonly type: InvalidEventType; readonly reason: InvalidEventReason; readonly field?: string }): void {
    const { type, reason, field } = invalid;
    this.#metrics.realtimeInvalidEvents.labels(type, reason).inc();
    const key = `${type} ${reason}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    log.warn({ type, reason, field }, 'invalid event from the Realtime API ignored (logged once per call per type and reason)');
  }
}
