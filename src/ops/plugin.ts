/**
 * The operations side of the app: `/metrics`, the once-a-minute summary line, and the socket
 * hygiene needed while closing. Registered by buildApp; the drain itself is driven by server.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Clock } from '../clock.js';
import { registerMetricsRoute, type Exposition } from './metrics-route.js';
import { startMinuteSummary } from './minute-summary.js';
import { refuseUpgradesWhileClosing } from './closing.js';

export interface OpsOptions {
  readonly metrics: Metrics;
  /** METRICS_TOKEN, when set. */
  readonly metricsToken: string | undefined;
  /** Interval of the `metrics` log line, ms. @default SUMMARY_INTERVAL_MS (60 000) */
  readonly summaryIntervalMs?: number;
  readonly clock: Clock;
  /** WORKERS > 1: scrapes answer the host's figures, and the primary logs the summary line for all. */
  readonly cluster?: { readonly exposition: () => Promise<Exposition> };
}

export function registerOps(app: FastifyInstance, opts: OpsOptions): void {
  app.decorate('ops', { closing: false });
  registerMetricsRoute(app, { metrics: opts.metrics, token: opts.metricsToken, exposition: opts.cluster?.exposition });
  refuseUpgradesWhileClosing(app);
  if (opts.cluster) return;
  const summary = startMinuteSummary({
    metrics: opts.metrics,
    // buildApp hands Fastify a pino logger; Fastify types it as its base logger.
    log: app.log as unknown as Logger,
    intervalMs: opts.summaryIntervalMs,
    now: opts.clock.mono,
  });
  app.addHook('onClose', (_instance, done) => {
    summary.stop();
    done();
  });
}
