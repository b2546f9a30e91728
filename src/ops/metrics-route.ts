/**
 * `GET /metrics`: the Prometheus text exposition of the app's registry, behind `metricsAccess`;
 * with WORKERS > 1, every worker's summed (src/cluster/cluster-metrics.ts), whichever got the scrape.
 */
import { sendError } from '../http-errors.js';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { metricsAccess } from './metrics-access.js';

/** A scrape's answer. */
export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

export interface MetricsRouteOptions {
  readonly metrics: Metrics;
  /** METRICS_TOKEN, when set. */
  readonly token: string | undefined;
  /** What a scrape answers instead of this registry's own figures (WORKERS > 1: the host's). */
  readonly exposition?: () => Promise<Exposition>;
}

export function registerMetricsRoute(app: FastifyInstance, opts: MetricsRouteOptions): void {
  const { registry } = opts.metrics;
  app.get('/metrics', async (request, reply) => {
    const access = metricsAccess({ token: opts.token, authorization: request.headers.authorization, ip: request.ip });
    if (access !== 'allow') {
      // The reason is for the operator's log; the client learns nothing beyond 403.
      request.log.info({ reason: access }, 'metrics request refused');
      return sendError(reply, 403, 'forbidden');
    }
    if (opts.exposition) {
      const { contentType, body } = await opts.exposition();
      return reply.type(contentType).send(body);
    }
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
