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
 * - Webhook POSTs that look signed: set aside and judged in `preHandler`, once the body is
 *   parsed and the signature can be verified (signed-webhooks.ts). Only a signature that
 *   verifies exempts a request from the flood rule and bans.
 * - Other requests: early 403 for a banned IP and the flood rule, unless they carry a valid API
 *   or metrics token.
 *
 * In front of that hook, a fast lane (fast-refusal.ts) answers anonymous stream upgrades on the
 * raw socket when the store can decide at once (in memory always; with Redis, an address whose
 * ban is held locally): the same verdict, status, headers, body, counter and log line, without
 * Fastify's request, reply and child logger. Valid credentials, and anything the store would
 * have to be asked about, take the hook. Below both, a per-address cap on open connections
 * (connection-cap.ts) bounds how many sockets one address holds.
 *
 * Every store call is bounded (resilient-store.ts), so the hook always finishes.
 */
import { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CallRegistry } from '../call-registry.js';
import type { Config } from '../config.js';
import { hasBearer } from '../bearer.js';
import type { Metrics } from '../metrics.js';
import { STREAM_PATH, STREAM_ROUTE, streamUrlBase as streamUrlBaseOf } from '../twilio/stream-path.js';
import { MAX_TOKEN_LENGTH } from '../twilio/stream-token.js';
import type { StreamAuth } from '../stream/route.js';
import { agentKey, clientKey, judgedAddress } from './client-ip.js';
import { guardConnections, MAX_CONNECTIONS_PER_IP } from './connection-cap.js';
import { checkStreamCredentials, streamTokenFor, tokenId, type CredentialRejection } from './credentials.js';
import type { GateVerdict } from './decide.js';
import { answerAnonymous } from './answers.js';
import { laneToken, refuseOnSocket, screenUpgrades } from './fast-refusal.js';
import { ForwardedClients } from './forwarded-clients.js';
import { KeyedBuckets } from './keyed-buckets.js';
import { guardLimits } from './limits.js';
import { MemoryStore } from './memory-store.js';
import { destroyUpgradeSocket, isUpgrade, rawRefusal } from './refuse.js';
import { ResilientStore } from './resilient-store.js';
import { signedWebhookGate } from './signed-webhooks.js';
import type { GuardStore } from './store.js';
import { createVerdicts, type Judged } from './verdicts.js';

/**
 * The health routes' budget per client address: 5 a second, bursts of 50. Load balancers and
 * supervisors poll every few seconds; this bounds what a client spends on them while they are
 * exempt from bans (a refusal costs about as much as the answer, so it need not be tighter).
 */
export const HEALTH_BUDGET = Object.freeze({ ratePerMinute: 300, burst: 50 });

/**
 * A live call's lease in the store (one stream per CallSid across instances), ms: released when
 * the stream's socket closes; this long only if the release is lost (an instance killed
 * mid-call, a Redis outage at that moment). Longer than any Realtime session (60 min at most),
 * so a live call never outlives its lease; a CallSid never streams again after its call anyway.
 */
export const LIVE_CALL_LEASE_MS = 4 * 60 * 60 * 1000;

export interface GuardOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  readonly metrics: Metrics;
  /** Memory (used as is) or a shared backend such as RedisStore (wrapped with a deadline and a memory fallback). */
  readonly store: GuardStore;
  /** Wall clock, ms. @default Date.now */
  readonly now?: () => number;
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
}

export interface Guard {
  /** The store answers (always true in memory); /readyz reports 503 when false. */
  readonly healthy: boolean;
  /**
   * A credential was rejected after the guard let the request through (a webhook's bad
   * signature): counts `rejections{reason}` and starts a cooldown on the source IP.
   */
  reportRejectedCredential(request: FastifyRequest, reason: CredentialRejection | 'missing_signature' | 'bad_api_token'): void;
  /** Closes the store (the Redis connection). */
  close(): Promise<void>;
}

/** The key a request is judged under (client-ip.ts); request.ip is undefined once the socket is gone. */
const ipOf = (request: FastifyRequest): string => clientKey(judgedAddress(request));

/** What the stream route receives; `slot` is released when the TCP socket closes. */
export type GuardedStreamAuth = StreamAuth & { readonly slot: { readonly ip: string; release(): void } };

export function installGuard(app: FastifyInstance, opts: GuardOptions): Guard {
  const { config, registry, metrics } = opts;
  const clock = opts.now ?? Date.now;
  const streamPath = STREAM_PATH;
  const webhookPrefix = opts.webhookPrefix ?? '/twilio/';
  const healthRoutes = new Set(opts.healthRoutes ?? ['/healthz', '/readyz']);
  const streamUrlBase = streamUrlBaseOf(config);
  const store =
    opts.store instanceof MemoryStore
      ? opts.store
      : new ResilientStore(opts.store, new MemoryStore(guardLimits(config)), {
          deadlineMs: opts.deadlineMs,
          probeIntervalMs: opts.probeIntervalMs,
          log: app.log,
          metrics,
        });
  const healthBudget = new KeyedBuckets(HEALTH_BUDGET);
  const verdicts = createVerdicts(metrics, config.streamSecret);
  const { count, say, logBan } = verdicts;
  // For store calls nobody waits for (a lease release, a penalty). The stores answer from memory
  // when the backend fails (resilient-store.ts), so these reject only on a bug: logged here, not
  // left to the process's unhandled-rejection policy, which would end every call on the instance.
  const logStoreFailure = (log: FastifyRequest['log'], op: string) => (err: unknown): void => log.error({ err, op }, 'guard store call failed');

  // The lane answers before the app's onResponse hook could count the request, so it counts it
  // there itself, under the route Fastify would have matched (laneToken makes sure it would).
  const streamRoute = STREAM_ROUTE;
  const answered = new Map<number, { inc(): void }>();
  const countAnswered = (status: number): void => {
    let child = answered.get(status);
    if (child === undefined) answered.set(status, (child = metrics.httpRequests.labels(streamRoute, 'GET', String(status))));
    child.inc();
  };

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

  const refuseGate = (at: Judged, verdict: GateVerdict & { ok: false }): void => {
    logBan(at.request.log, at.ip, at.now, verdict.ban, verdict.reason);
    say(at, { status: verdict.status, reason: verdict.reason, retryAfterMs: verdict.retryAfterMs });
  };

  const credentialsOf = (token: string, signature: string | string[] | undefined, now: number) =>
    checkStreamCredentials({
      streamSecret: config.streamSecret,
      twilioAuthToken: config.twilioAuthToken,
      streamUrlBase,
      token,
      signature,
      now,
    });

  // Behind trusted proxies the lane needs Fastify's request.ip: it reuses answers the hook saw.
  const forwarded = config.trustProxy === false ? undefined : new ForwardedClients();

  async function gateStream(at: Judged, token: string): Promise<void> {
    const { request, ip, now } = at;
    if (forwarded !== undefined && typeof request.ip === 'string') {
      forwarded.learn(request.raw.socket.remoteAddress, request.headers['x-forwarded-for'], judgedAddress(request));
    }
    const credentials = credentialsOf(token, request.headers['x-twilio-signature'], now);

    if (!credentials.ok) {
      const agent = agentKey(ip, request.headers['user-agent']);
      const verdict = await store.attempt(ip, agent, now, !registry.draining);
      const answer = answerAnonymous(verdict, registry.draining, credentials.reason);
      logBan(request.log, ip, now, answer.ban, answer.cause);
      return say(at, answer.refusal);
    }

    // Valid credentials: one stream per call first (a replayed webhook mints a fresh valid token
    // for a live call), capacity (local and cheap), then single use, then the slot.
    // (A token claimed and then refused for capacity stays used: Twilio does not retry a stream.)
    // Streams only: a pre-warmed upstream reserved for this very call must not refuse its stream.
    if (registry.isStreaming(credentials.callSid)) return say(at, { status: 409, reason: 'call_live' });
    if (registry.streams >= config.maxCalls) return say(at, { status: 503, reason: 'capacity' });
    if (registry.streamsFrom(ip) >= config.maxStreamsPerIp) return say(at, { status: 429, reason: 'ip_cap' });
    const id = tokenId(credentials.callSid, credentials.expiresAt);
    if (!(await store.claimToken(id, credentials.expiresAt * 1000, now))) return say(at, { status: 409, reason: 'token_reused' });
    // Every instance sharing the store: the call's lease (memory alone: this instance's view).
    const callSid = credentials.callSid;
    if (!(await store.claimCall(callSid, now + LIVE_CALL_LEASE_MS, now))) return say(at, { status: 409, reason: 'call_live' });
    // Authoritative and synchronous: two upgrades racing for the last slot, or for one call, cannot both get it.
    const slot = registry.tryAcquire(ip, callSid);
    if (slot === 'call_live') return say(at, { status: 409, reason: 'call_live' }); // the lease is the live stream's
    if (typeof slot !== 'object') store.releaseCall(callSid).catch(logStoreFailure(request.log, 'release_call'));
    if (slot === 'capacity') return say(at, { status: 503, reason: 'capacity' });
    if (slot === 'ip_cap') return say(at, { status: 429, reason: 'ip_cap' });
    // Held until the TCP socket closes, so the caps count real sockets whatever the route does.
    const socket = request.raw.socket;
    const release = (): void => {
      slot.release();
      store.releaseCall(callSid).catch(logStoreFailure(request.log, 'release_call'));
    };
    socket.once('close', release);
    if (socket.destroyed) release(); // the client left during the claims
    // From now on MAX_STREAMS_PER_IP bounds this socket, not the connection cap (see connection-cap.ts).
    connections.adopt(socket);
    const auth: GuardedStreamAuth = { callSid, token, expiresAt: credentials.expiresAt, slot };
    request.streamAuth = auth;
    request.log.debug({ callSid }, 'stream upgrade admitted');
  }

  /** Health routes: no ban applies; their own budget bounds them. */
  function gateHealth(at: Judged): void {
    const verdict = healthBudget.take(at.ip, at.now);
    if (!verdict.ok) say(at, { status: 429, reason: 'health_rate_limited', retryAfterMs: verdict.retryAfterMs });
  }

  if (!app.hasRequestDecorator('streamAuth')) app.decorateRequest('streamAuth', undefined);

  /**
   * The fast lane's judge: answers an anonymous stream upgrade on the raw socket when the store
   * decides it at once, exactly as gateStream would. The client key must be the one Fastify
   * computes: the socket's address, or behind trusted proxies the one the hook saw for the same
   * peer and X-Forwarded-For (forwarded-clients.ts); unknown, the hook judges.
   */
  const screen = (req: IncomingMessage, socket: Duplex): boolean => {
    if (!(socket instanceof Socket)) return false;
    const address = forwarded === undefined ? socket.remoteAddress : forwarded.lookup(socket.remoteAddress, req.headers['x-forwarded-for']);
    if (address === undefined) return false;
    const token = laneToken(req, streamPath, MAX_TOKEN_LENGTH);
    if (token === undefined || !isUpgrade(req)) return false;
    const now = Math.floor(clock());
    const credentials = credentialsOf(token, req.headers['x-twilio-signature'], now);
    if (credentials.ok) return false; // valid credentials are never refused for their IP: the hook admits them
    const ip = clientKey(address);
    const verdict = store.attemptNow(ip, agentKey(ip, req.headers['user-agent']), now, !registry.draining);
    if (verdict === undefined) return false; // only the shared store can tell: the hook asks it
    const answer = answerAnonymous(verdict, registry.draining, credentials.reason);
    logBan(app.log, ip, now, answer.ban, answer.cause);
    count(answer.refusal.reason);
    countAnswered(answer.refusal.status);
    app.log.debug({ ip, status: answer.refusal.status, reason: answer.refusal.reason }, 'guard refused');
    refuseOnSocket(socket, rawRefusal(answer.refusal));
    return true;
  };
  // On ready, @fastify/websocket has registered its 'upgrade' listener; the lane goes in front of
  // it. Closing puts it back first, so Fastify's own 503-while-closing answers as before. Without
  // the stream route there is nothing for the lane to stand in for, but the screen still gives
  // passed-on upgrades their idle deadline.
  let unscreen: (() => void) | undefined;
  app.addHook('onReady', (done) => {
    const lane = opts.fastLane !== false && app.hasRoute({ method: 'GET', url: streamRoute });
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
    // Verified once the body is parsed (preHandler below); until then neither exempt nor counted.
    if (webhooks.setAside(request)) return;
    // A valid API or metrics token is a credential too: never refused for its IP's record.
    if (hasBearer(request.headers.authorization, config.apiToken) || hasBearer(request.headers.authorization, config.metricsToken)) return;
    const verdict = await store.hit(at.ip, at.now);
    if (!verdict.ok) refuseGate(at, verdict);
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
