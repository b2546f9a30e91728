/**
 * buildApp(config, deps): the whole HTTP/WebSocket application, without listening.
 * `server.ts` owns the process (listen, signals, exit); tests build as many apps as they like.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { DestinationStream, Logger } from 'pino';
import type { Config } from './config.js';
import { createLogger } from './log.js';
import { CallRegistry } from './call-registry.js';
import { createMetrics, type Metrics } from './metrics.js';
import { httpRequestCounter } from './http-requests.js';
import { registerWebhooks } from './twilio/webhooks.js';
import { MAX_TOKEN_LENGTH } from './twilio/stream-token.js';
import { createGuardStore, installGuard, type Guard, type GuardOptions, type GuardStore } from './guard/index.js';
import { HTTP_TIMEOUTS, serverTimeouts, type HttpTimeouts } from './guard/http-timeouts.js';
import { registerStreamRoute } from './stream/route.js';
import type { StreamSession } from './stream/session.js';
import type { WebSocket } from 'ws';
import { connectRealtime } from './stream/upstream.js';
import { clockWith, type Clock } from './clock.js';
import { FAILURE_THRESHOLD, RETRY_AFTER_MS, UpstreamHealth, watchConnect } from './stream/upstream-health.js';
import { createCallControl } from './calls/call-control.js';
import { registerOps } from './ops/plugin.js';
import { openCallRecords, type CallRecords, type CallRecordsOptions } from './records/call-records.js';
import { websocketPreClose } from './ops/closing.js';
import { AssistantBook } from './assistants/book.js';
import type { HostAdmissions } from './guard/host-admission.js';
import type { Exposition } from './ops/metrics-route.js';
import { registerConsole } from './console/route.js';

/** Webhook form bodies are a few hundred bytes; 64 KiB is generous and still cheap to refuse. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** SPEC: Media Streams messages over 64 KiB close the socket with 1009. */
export const WS_MAX_PAYLOAD_BYTES = 64 * 1024;

export interface AppDeps {
  /** A ready logger (tests pass one writing to a capture stream). */
  readonly logger?: Logger;
  /** Or just a destination for the default logger. */
  readonly logStream?: DestinationStream;
  readonly metrics?: Metrics;
  readonly registry?: CallRegistry;
  /**
   * The assistant profiles (server.ts opens them, to exit 1 on a bad file, and reloads them on
   * SIGHUP). @default AssistantBook.open(ASSISTANTS_FILE, config), which throws AssistantsError
   */
  readonly assistants?: AssistantBook;
  /** The one place time comes from (tests replace the wall clock to move it). @default systemClock */
  readonly clock?: Partial<Clock>;
  /**
   * Opens a call's Realtime socket on its profile's model (tests). The pool still configures it and
   * pre-warms, and upstream health and the expiry watch still watch it. @default connectRealtime(config, …, model)
   */
  readonly connectUpstream?: (callSid: string, model: string) => WebSocket;
  /** How long a pre-warmed upstream waits for its stream, in ms (tests shorten it). @default 15 000 */
  readonly prewarmTimeoutMs?: number;
  /** Interval of the `metrics` log line in ms (tests shorten it). @default 60 000 */
  readonly summaryIntervalMs?: number;
  /** Where the guard keeps its state. @default Redis when REDIS_URL is set, else memory */
  readonly guardStore?: GuardStore;
  /** How long calls are refused after the upstream is found down, before one tries again, ms. @default 15 000 */
  readonly upstreamRetryAfterMs?: number;
  /** Where call records go instead of the database config.records names, and the recorder's limits (tests). */
  readonly records?: Pick<CallRecordsOptions, 'store' | 'limits'>;
  /** HTTP timeouts (tests shorten them). @default HTTP_TIMEOUTS */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  /** Open HTTP connections per client address. @default 256 (MAX_CONNECTIONS_PER_IP) */
  readonly maxConnectionsPerIp?: number;
  /** The guard's timings and fast lane (tests shorten or turn them off). @default installGuard's */
  readonly guard?: Pick<GuardOptions, 'deadlineMs' | 'probeIntervalMs' | 'upgradeSettleMs' | 'fastLane'>;
  /** One worker of several (WORKERS > 1): what it asks the primary (src/cluster/worker.ts). */
  readonly worker?: WorkerDeps;
}

/** A worker's ties to the primary: host-wide call slots, and /metrics for the whole host. */
export interface WorkerDeps {
  readonly hostAdmissions: HostAdmissions;
  readonly exposition: () => Promise<Exposition>;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    registry: CallRegistry;
    metrics: Metrics;
    guard: Guard;
    /** Live stream sessions: the stream route adds and removes them; a drain and shutdown read them. */
    sessions: Set<StreamSession>;
    records: CallRecords;
    /** The assistant profiles in force; `reloadAssistants(app.assistants, app.log)` on SIGHUP. */
    assistants: AssistantBook;
  }
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  // First: a bad assistants file must stop the start before anything is opened.
  const assistants = deps.assistants ?? AssistantBook.open(config.assistantsFile, config);
  const logger = deps.logger ?? createLogger(config, deps.logStream);
  const registry = deps.registry ?? new CallRegistry(config);
  const metrics = deps.metrics ?? createMetrics();
  const clock = clockWith(deps.clock);
  const now = clock.wall;

  const app = Fastify({
    // Typed as Fastify's base logger so the instance type stays the default one plugins expect.
    loggerInstance: logger as FastifyBaseLogger,
    // Named proxies only: `true` or a hop count would trust a spoofable X-Forwarded-For.
    trustProxy: config.trustProxy === false ? false : [...config.trustProxy],
    // The stream token rides in the path; the default 100 would answer 414 for longer ids.
    routerOptions: { maxParamLength: MAX_TOKEN_LENGTH + 16 },
    bodyLimit: BODY_LIMIT_BYTES,
    // Slow clients cannot hold sockets (src/guard/http-timeouts.ts); upgraded streams are unaffected.
    ...serverTimeouts({ ...HTTP_TIMEOUTS, ...deps.httpTimeouts }),
    // Fastify's per-request info lines would double every flood into the log; we log
    // decisions instead, and count requests in metrics.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });

  app.decorate('config', config);
  app.decorate('registry', registry);
  app.decorate('metrics', metrics);
  const sessions = new Set<StreamSession>();
  app.decorate('sessions', sessions);
  app.decorate('assistants', assistants);

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_request, body, done) => {
      // Last value wins for repeated keys, as Twilio never repeats them.
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );

  const countHttp = httpRequestCounter(metrics); // the guard's fast lane counts through it too
  app.addHook('onResponse', (request, reply, done) => {
    countHttp(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
    done();
  });

  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD_BYTES, perMessageDeflate: false },
    // Not the default (close every socket at once): calls were drained before close(); see ops/closing.ts.
    preClose: websocketPreClose,
    errorHandler(error, socket, request) {
      // ws reports protocol faults (oversized or malformed frames) after it has already sent the
      // right close code (1009, 1002…); terminating here would cut that close frame off.
      const code = (error as { code?: string }).code;
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
        request.log.warn({ code }, 'stream protocol error');
        return;
      }
      request.log.error({ err: error }, 'stream handler error');
      socket.terminate();
    },
  });

  // The pre-upgrade guard: hooks on every route, before body parsing and before any upgrade.
  const guard = installGuard(app, {
    config,
    registry,
    metrics,
    store: deps.guardStore ?? createGuardStore(config),
    now,
    mono: clock.mono,
    maxConnectionsPerIp: deps.maxConnectionsPerIp,
    hostAdmissions: deps.worker?.hostAdmissions,
    ...deps.guard,
  });
  app.decorate('guard', guard);
  app.addHook('onClose', async () => guard.close());

  registerOps(app, { metrics, metricsToken: config.metricsToken, summaryIntervalMs: deps.summaryIntervalMs, clock, cluster: deps.worker });

  // Upstream health: after repeated failed connects, webhooks speak "not available" instead of
  // opening streams that could only end in an apology.
  const upstreamHealth = new UpstreamHealth(FAILURE_THRESHOLD, deps.upstreamRetryAfterMs ?? RETRY_AFTER_MS);
  registry.setAvailabilityCheck(() => (upstreamHealth.isDown(now()) ? 'upstream_down' : null));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    // A shared guard store (Redis) that is down is reported but does not make us unready: the
    // guard answers from memory meanwhile, and one Redis outage must not pull every instance
    // out of the load balancer at once.
    // An unreachable Realtime API is reported the same way: the webhook then answers every call
    // in words, which beats a 503 that would leave Twilio to play its own error message.
    const checks = { guardStore: guard.healthy ? 'ok' : 'degraded', upstream: upstreamHealth.down ? 'down' : 'ok' };
    if (registry.draining) return reply.code(503).send({ status: 'draining', liveCalls: registry.live, checks });
    const healthy = guard.healthy && !upstreamHealth.down;
    return { status: healthy ? 'ready' : 'degraded', liveCalls: registry.live, checks };
  });

  // Call control: outbound calls, the assistant's tools, per-call greetings, pre-warmed upstreams.
  const callControl = createCallControl({
    connect: (callSid, model) =>
      watchConnect(deps.connectUpstream?.(callSid, model) ?? connectRealtime(config, undefined, model), upstreamHealth, now),
    config,
    registry,
    assistants,
    metrics,
    log: logger,
    clock,
    prewarmTimeoutMs: deps.prewarmTimeoutMs,
    // /twilio/call-status is a webhook the guard lets through to be verified: report failures.
    onBadSignature: (request, reason) => guard.reportRejectedCredential(request, reason),
    onBadToken: (request) => guard.reportRejectedCredential(request, 'bad_api_token'),
  });
  app.addHook('onClose', (_instance, done) => {
    callControl.close();
    done();
  });
  registerWebhooks(app, {
    config,
    registry,
    now,
    onBadSignature: (request, reason) => guard.reportRejectedCredential(request, reason),
    assistantFor: callControl.assistantFor,
    onTwimlServed: callControl.onTwimlServed,
  });
  // Call records: what each call leaves (SQLite, or Postgres with DATABASE_URL), and GET /calls.
  // Closed after the routes' sockets: buildApp's onClose hooks run in order, and the drain has
  // already ended the calls, so their records are in the queue that close() writes out.
  const records = openCallRecords({ settings: config.records, registry: metrics.registry, log: logger, now, ...deps.records });
  app.decorate('records', records);
  records.register(app, { apiToken: config.apiToken, onBadToken: (request) => guard.reportRejectedCredential(request, 'bad_api_token') });
  app.addHook('onClose', async () => records.close());
  // The operator console (/console/) that reads those routes and runs the browser softphone.
  registerConsole(app, { config });

  registerStreamRoute(app, {
    config,
    metrics,
    openUpstream: callControl.openUpstream,
    sessions,
    recorder: records.recorder,
    clock,
  });
  callControl.register(app);

  return app;
}
