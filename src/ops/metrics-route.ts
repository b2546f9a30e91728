/**
 * `GET /metrics`: the Prometheus text exposition of the app's registry, behind `metricsAccess`.
 */
import { sendError } from '../http-errors.js';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { metricsAccess } from './metrics-access.js';

export interface MetricsRouteOptions {
  readonly metrics: Metrics;
  /** METRICS_TOKEN, when set. */
  readonly token: string | undefined;
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
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
