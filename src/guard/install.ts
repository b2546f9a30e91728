/**
 * installGuard: the Fastify side of the pre-upgrade guard. It only gathers inputs and carries
 * out verdicts; the decisions are in decide.ts, credentials.ts and signed-webhooks.ts, the state
 * in the store.
 *
 * One root `onRequest` hook, so it runs before body parsing on every route:
 * - Stream upgrades (whatever Fastify's router sends to `GET /twilio/stream/:token`, however it
 *   is spelled, and anything under that raw path): credentials first. A valid token (and a valid
 *   upgrade signature when one is sent) is limited only by capacity (503/429), one live stream
 *   per CallSid (409; across instances through the store's lease) and single use (409), never by
 *   its IP's record or rate: Twilio's media servers share egress IPs with other Twilio customers.
 *   Anything else is anonymous: 403 under a ban, 429 over budget, 503 while draining, else 401
 *   and a cooldown on the IP, so the next try is a cheap 403.
 * - Health routes (/healthz, /readyz): never refused for a ban or cooldown (a load balancer
 *   behind a misconfigured proxy must not mark the instance dead), bounded by a per-address
 *   budget of their own (HEALTH_BUDGET) instead.
 * - The console's files (`/console/*`: scripts, styles, an icon; src/console/route.ts): one page
 *   load fetches ~15 of them at once, which the flood rule (20 requests in 5 s) would count as a
 *   flood after one reload. They are public, small and served from memory, so a per-address budget
 *   of their own (CONSOLE_ASSET_BUDGET) bounds them instead of the flood rule and bans; the page
 *   itself (`/console/`) is judged like any route, so a banned address gets no console, and each
 *   page load counts once toward the flood rule.
 * - Webhook POSTs that look signed: set aside and judged in `preHandler`, once the body is
 *   parsed and the signature can be verified (signed-webhooks.ts). Only a signature that
 *   verifies exempts a request from the flood rule and bans.
 * - Other requests: early 403 for a banned IP and the flood rule, unless they carry a valid API
 *   or metrics token.
 *
 * In front of that hook, a fast lane (fast-refusal.ts) answers anonymous stream upgrades on the
 * raw socket when the store can decide at once (in memory always; with Redis, an address whose
 * ban is held locally). Both ask one judge (judge.ts) and record its verdict alike (verdicts.ts
 * `record`), so the lane gives the same status, headers, body, counters and log lines, without
 * Fastify's request, reply and child logger. Valid credentials, and anything the store would
 * have to be asked about, take the hook. Below both, a per-address cap on open connections
 * (connection-cap.ts) bounds how many sockets one address holds.
 *
 * What a stream upgrade with valid credentials must pass besides is in stream-admission.ts.
 * Every store call is bounded (resilient-store.ts), so the hook always finishes.
 */
import type { HostAdmissions } from './host-admission.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CallRegistry } from '../call-registry.js';
import type { Config } from '../config.js';
import { hasBearer } from '../bearer.js';
import { httpRequestCounter } from '../http-requests.js';
import type { Metrics } from '../metrics.js';
import { STREAM_PATH } from '../twilio/stream-path.js';
import { clientKey, judgedAddress } from './client-ip.js';
import { guardConnections, MAX_CONNECTIONS_PER_IP } from './connection-cap.js';
import { streamTokenFor, type CredentialRejection } from './credentials.js';
import { answerRefused } from './answers.js';
import { laneScreen, screenUpgrades } from './fast-refusal.js';
import { ForwardedClients } from './forwarded-clients.js';
import { KeyedBuckets } from './keyed-buckets.js';
import { guardLimits } from './limits.js';
import { MemoryStore } from './memory-store.js';
import { destroyUpgradeSocket, isUpgrade, type RefusalReason } from './refuse.js';
import { ResilientStore } from './resilient-store.js';
import { signedWebhookGate } from './signed-webhooks.js';
import type { GuardStore } from './store.js';
import { streamAdmission, streamCredentials } from './stream-admission.js';
import { createVerdicts, type Judged } from './verdicts.js';

/**
 * The health routes' budget per client address: 5 a second, bursts of 50. Load balancers and
 * supervisors poll every few seconds; this bounds what a client spends on them while they are
 * exempt from bans (a refusal costs about as much as the answer, so it need not be tighter).
 */
export const HEALTH_BUDGET = Object.freeze({ ratePerMinute: 300, burst: 50 });

/**
 * The console files' budget per client address: bursts of 120 (eight page loads at once), then
 * 10 a second. A person reloading the console stays far below it; past it, 429 and no ban.
 */
export const CONSOLE_ASSET_BUDGET = Object.freeze({ ratePerMinute: 600, burst: 120 });

export interface GuardOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  readonly metrics: Metrics;
  /** Memory (used as is) or a shared backend such as RedisStore (wrapped with a deadline and a memory fallback). */
  readonly store: GuardStore;
  /** Wall clock, ms. @default Date.now */
  readonly now?: () => number;
  /** Monotonic clock, ms (the store's probe interval). @default systemClock.mono */
  readonly mono?: () => number;
  /** Longest wait for a shared store per call, ms. @default 50 */
  readonly deadlineMs?: number;
  /** While a shared store fails, how often to try it again, ms. @default 1_000 */
  readonly probeIntervalMs?: number;
  /** Answer what it can of anonymous stream upgrades on the raw socket (fast-refusal.ts). @default true */
  readonly fastLane?: boolean;
  /**
   * Idle deadline for upgrade sockets passed on to Fastify, ms (see fast-refusal.ts).
   * @default 10_000 (UPGRADE_SETTLE_MS)
   */
  readonly upgradeSettleMs?: number;
  /**
   * POSTs under this prefix whose X-Twilio-Signature verifies skip the flood rule and IP bans;
   * ones that fail count like a bad token. Elsewhere the header earns nothing. @default '/twilio/'
   */
  readonly webhookPrefix?: string;
  /** Open HTTP connections per client address (connection-cap.ts). @default 256 (MAX_CONNECTIONS_PER_IP) */
  readonly maxConnectionsPerIp?: number;
  /** Routes exempt from bans, under HEALTH_BUDGET instead. @default ['/healthz', '/readyz'] */
  readonly healthRoutes?: readonly string[];
  /** WORKERS > 1: the primary's host-wide count, asked after this process's registry (host-admission.ts). */
  readonly hostAdmissions?: HostAdmissions;
  /** GET routes of static files, under CONSOLE_ASSET_BUDGET instead of the flood rule. @default ['/console/*'] */
  readonly assetRoutes?: readonly string[];
}

export interface Guard {
  /** The store answers (always true in memory); /readyz reports 503 when false. */
  readonly healthy: boolean;
  /**
   * A credential was rejected after the guard let the request through (a webhook's bad
   * signature): counts `rejections{reason}` and starts a cooldown on the source IP.
   */
  reportRejectedCredential(request: FastifyRequest, reason: CredentialRejection | Extract<RefusalReason, 'missing_signature' | 'bad_api_token'>): void;
  /** Closes the store (the Redis connection). */
  close(): Promise<void>;
}

/** The key a request is judged under (client-ip.ts); request.ip is undefined once the socket is gone. */
const ipOf = (request: FastifyRequest): string => clientKey(judgedAddress(request));

export function installGuard(app: FastifyInstance, opts: GuardOptions): Guard {
  const { config, registry, metrics } = opts;
  const clock = opts.now ?? Date.now;
  const streamPath = STREAM_PATH;
  const webhookPrefix = opts.webhookPrefix ?? '/twilio/';
  const healthRoutes = new Set(opts.healthRoutes ?? ['/healthz', '/readyz']);
  // CONSOLE_ASSET_ROUTE of src/console/route.ts (test/console/guard.test.ts holds them together).
  const assetRoutes = new Set(opts.assetRoutes ?? ['/console/*']);
  const store =
    opts.store instanceof MemoryStore
      ? opts.store
      : new ResilientStore(opts.store, new MemoryStore(guardLimits(config)), {
          deadlineMs: opts.deadlineMs,
          probeIntervalMs: opts.probeIntervalMs,
          mono: opts.mono,
          log: app.log,
          metrics,
        });
  const healthBudget = new KeyedBuckets(HEALTH_BUDGET);
  const assetBudget = new KeyedBuckets(CONSOLE_ASSET_BUDGET);
  const verdicts = createVerdicts(metrics, config.streamSecret);
  const { count, say, logBan } = verdicts;
  // For store calls nobody waits for (a lease release, a penalty). The stores answer from memory
  // when the backend fails (resilient-store.ts), so these reject only on a bug: logged here, not
  // left to the process's unhandled-rejection policy, which would end every call on the instance.
  const logStoreFailure = (log: FastifyRequest['log'], op: string) => (err: unknown): void => log.error({ err, op }, 'guard store call failed');

  const connections = guardConnections(app, {
    trustProxy: config.trustProxy,
    max: opts.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP,
    metrics,
    verdicts,
    clock,
  });

  const webhooks = signedWebhookGate({
    authToken: config.twilioAuthToken,
    publicUrl: config.publicUrl,
    prefix: webhookPrefix,
    store,
    verdicts,
    ipOf,
    clock,
  });

  const credentialsOf = streamCredentials(config);

  // Behind trusted proxies the lane needs Fastify's request.ip: it reuses answers the hook saw.
  const forwarded = config.trustProxy === false ? undefined : new ForwardedClients();

  const gateStream = streamAdmission({
    config,
    registry,
    store,
    verdicts,
    credentials: credentialsOf,
    forwarded,
    adopt: (socket) => connections.adopt(socket),
    logStoreFailure,
    hostAdmissions: opts.hostAdmissions,
  });

  /** Health routes: no ban applies; their own budget bounds them. */
  function gateHealth(at: Judged): void {
    const verdict = healthBudget.take(at.ip, at.now);
    if (!verdict.ok) say(at, { status: 429, reason: 'health_rate_limited', retryAfterMs: verdict.retryAfterMs });
  }

  /** Static files: no flood count and no ban; their own budget bounds them. */
  function gateAsset(at: Judged): void {
    const verdict = assetBudget.take(at.ip, at.now);
    if (!verdict.ok) say(at, { status: 429, reason: 'asset_rate_limited', retryAfterMs: verdict.retryAfterMs });
  }

  if (!app.hasRequestDecorator('streamAuth')) app.decorateRequest('streamAuth', undefined);

  // On ready, @fastify/websocket has registered its 'upgrade' listener; the lane goes in front of
  // it. Closing puts it back first, so Fastify's own 503-while-closing answers as before. Without
  // the stream route there is nothing for the lane to stand in for, but the screen still gives
  // passed-on upgrades their idle deadline.
  let unscreen: (() => void) | undefined;
  app.addHook('onReady', (done) => {
    const lane = opts.fastLane !== false && app.hasRoute({ method: 'GET', url: `${streamPath}/:token` });
    const screen = laneScreen({
      streamPath,
      forwarded,
      credentials: credentialsOf,
      store,
      draining: () => registry.draining,
      clock,
      verdicts,
      log: app.log,
      countHttp: httpRequestCounter(metrics),
    });
    unscreen = screenUpgrades(app.server, lane ? screen : () => false, {
      settleMs: opts.upgradeSettleMs,
      onError: (err) => app.log.error({ err }, 'guard fast lane failed; the request goes through Fastify'),
    });
    done();
  });
  app.addHook('preClose', (done) => {
    unscreen?.();
    done();
  });

  app.addHook('onRequest', async (request, reply) => {
    const at: Judged = { request, reply, ip: ipOf(request), now: Math.floor(clock()) };
    const route = request.routeOptions.url;
    if (isUpgrade(request.raw)) {
      // The router's verdict, so no spelling of the stream path escapes (credentials.ts).
      const token = streamTokenFor(route, request.params, request.url, streamPath);
      if (token !== undefined) return gateStream(at, token);
    }
    if (route !== undefined && healthRoutes.has(route)) return gateHealth(at);
    if (route !== undefined && assetRoutes.has(route) && (request.method === 'GET' || request.method === 'HEAD')) return gateAsset(at);
    // Verified once the body is parsed (preHandler below); until then neither exempt nor counted.
    if (webhooks.setAside(request)) return;
    // A valid API or metrics token is a credential too: never refused for its IP's record.
    if (hasBearer(request.headers.authorization, config.apiToken) || hasBearer(request.headers.authorization, config.metricsToken)) return;
    const verdict = await store.hit(at.ip, at.now);
    if (!verdict.ok) verdicts.answer(at, answerRefused(verdict));
  });

  app.addHook('preHandler', (request, reply) => webhooks.verify(request, reply));

  app.addHook('onResponse', (request, _reply, done) => {
    destroyUpgradeSocket(request.raw);
    webhooks.settle(request);
    done();
  });

  return {
    get healthy() {
      return store instanceof ResilientStore ? store.healthy : true;
    },
    reportRejectedCredential(request, reason) {
      count(reason);
      const ip = ipOf(request);
      const now = Math.floor(clock());
      store
        .penalize(ip, now)
        .then((ban) => logBan(request.log, ip, now, ban, reason))
        .catch(logStoreFailure(request.log, 'penalize'));
    },
    close: () => store.close(),
  };
}
