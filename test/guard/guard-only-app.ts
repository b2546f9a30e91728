/**
 * The one part of the guard harness that is not the real app: an app that installs the guard with
 * tunings buildApp cannot pass on yet (AppDeps has no way to set the store deadline, the probe
 * interval, the upgrade settle time or the fast lane). Delete it once AppDeps carries them
 * (e.g. `guard?: GuardTuning`, spread into installGuard's options) and pass them to buildApp.
 *
 * Until then it follows buildApp where the guard can tell: the same router, body and HTTP-timeout
 * options, the same request counter, the guard installed the same way before the routes, closed
 * with the app. The routes are stand-ins: the stream route only records that it was reached, and
 * the health routes answer as the real ones do when all is well.
 */
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from '../../src/app.js';
import { BODY_LIMIT_BYTES, WS_MAX_PAYLOAD_BYTES } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { installGuard, type GuardOptions, type GuardStore } from '../../src/guard/index.js';
import { HTTP_TIMEOUTS, serverTimeouts } from '../../src/guard/http-timeouts.js';
import { httpRequestCounter } from '../../src/http-requests.js';
import { websocketPreClose } from '../../src/ops/closing.js';
import { MAX_TOKEN_LENGTH } from '../../src/twilio/stream-token.js';
import { STREAM_ROUTE } from '../../src/twilio/stream-path.js';
import type { CallRegistry } from '../../src/call-registry.js';
import type { Metrics } from '../../src/metrics.js';
import type { Logger } from 'pino';

/** What the guard accepts besides buildApp's deps. */
export type GuardTuning = Pick<GuardOptions, 'deadlineMs' | 'probeIntervalMs' | 'upgradeSettleMs' | 'fastLane'>;

/** The deps buildApp would get, all given. */
export interface GuardOnlyDeps extends Pick<AppDeps, 'maxConnectionsPerIp'> {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly registry: CallRegistry;
  readonly now: () => number;
  readonly guardStore: GuardStore;
}

export async function guardOnlyApp(config: Config, deps: GuardOnlyDeps, tuning: GuardTuning): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    trustProxy: config.trustProxy === false ? false : [...config.trustProxy],
    routerOptions: { maxParamLength: MAX_TOKEN_LENGTH + 16 },
    bodyLimit: BODY_LIMIT_BYTES,
    ...serverTimeouts(HTTP_TIMEOUTS),
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  app.decorate('config', config);
  app.decorate('registry', deps.registry);
  app.decorate('metrics', deps.metrics);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const countHttp = httpRequestCounter(deps.metrics);
  app.addHook('onResponse', (request, reply, done) => {
    countHttp(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
    done();
  });
  await app.register(websocket, { options: { maxPayload: WS_MAX_PAYLOAD_BYTES, perMessageDeflate: false }, preClose: websocketPreClose });
  const guard = installGuard(app, {
    config,
    registry: deps.registry,
    metrics: deps.metrics,
    store: deps.guardStore,
    now: deps.now,
    maxConnectionsPerIp: deps.maxConnectionsPerIp,
    ...tuning,
  });
  app.decorate('guard', guard);
  app.addHook('onClose', async () => guard.close());
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready', liveCalls: deps.registry.live, checks: { guardStore: guard.healthy ? 'ok' : 'degraded', upstream: 'ok' } }));
  app.get(STREAM_ROUTE, { websocket: true }, (socket, request) => {
    if (!request.streamAuth) socket.close(1008, 'unauthorized');
  });
  return app;
}
