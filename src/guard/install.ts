/**
 * installGuard: the Fastify side of the pre-upgrade guard. It only gathers inputs and carries
 * out verdicts; the decisions are in decide.ts and credentials.ts, the state in the store.
 *
 * One root `onRequest` hook, so it runs before body parsing on every route:
 * - Stream upgrades (`GET /twilio/stream/:token`): credentials first. A valid token (and a valid
 *   upgrade signature when one is sent) is limited only by capacity (503/429) and single use
 *   (409), never by its IP's record or rate: Twilio's media servers share egress IPs with other
 *   Twilio customers. Anything else is anonymous: 403 under a ban, 429 over budget, 503 while
 *   draining, else 401 and a cooldown on the IP, so the next try is a cheap 403.
 * - Other requests: early 403 for a banned IP and the flood rule; a webhook POST (under
 *   /twilio/) carrying X-Twilio-Signature is let through to its route, which verifies it after
 *   parsing the body and calls `reportRejectedCredential` on failure.
 *
 * In front of that hook, a fast lane (fast-refusal.ts) answers anonymous stream upgrades on the
 * raw socket when the store can decide at once (in memory always; with Redis, an address whose
 * ban is held locally): the same verdict, status, headers, body, counter and log line, without
 * Fastify's request, reply and child logger. Valid credentials, and anything the store would
 * have to be asked about, take the hook.
 *
 * Every store call is bounded (resilient-store.ts), so the hook always finishes.
 */
import { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallRegistry } from '../call-registry.js';
import { publicWsBase, type Config } from '../config.js';
import { hasBearer } from '../bearer.js';
import type { Metrics } from '../metrics.js';
import { MAX_TOKEN_LENGTH } from '../twilio/stream-token.js';
import type { StreamAuth } from '../stream/route.js';
import { agentKey, clientKey, ipHasher } from './client-ip.js';
import { checkStreamCredentials, streamTokenOf, tokenId, type CredentialRejection } from './credentials.js';
import type { GateVerdict } from './decide.js';
import { laneToken, refuseOnSocket, screenUpgrades } from './fast-refusal.js';
import { ForwardedClients } from './forwarded-clients.js';
import { guardLimits } from './limits.js';
import { MemoryStore } from './memory-store.js';
import type { BanVerdict } from './penalty.js';
import { destroyUpgradeSocket, isUpgrade, rawRefusal, refuse, type Refusal } from './refuse.js';
import { ResilientStore } from './resilient-store.js';
import type { GuardStore } from './store.js';

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
  /** Where the stream WebSocket lives. @default '/twilio/stream' */
  readonly streamPath?: string;
  /** Answer what it can of anonymous stream upgrades on the raw socket (fast-refusal.ts). @default true */
  readonly fastLane?: boolean;
  /**
   * Idle deadline for upgrade sockets passed on to Fastify, ms (see fast-refusal.ts).
   * @default 10_000 (UPGRADE_SETTLE_MS)
   */
  readonly upgradeSettleMs?: number;
  /**
   * POSTs under this prefix carrying X-Twilio-Signature skip the flood rule and IP bans (their
   * route verifies the signature). Elsewhere the header earns nothing. @default '/twilio/'
   */
  readonly webhookPrefix?: string;
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

/** request.ip is undefined only once the socket is gone; such requests share one key. */
const ipOf = (request: FastifyRequest): string => clientKey((request.ip as string | undefined) ?? 'unknown');

/** What an anonymous upgrade attempt is told, given the store's verdict, and the ban to log. */
interface AnonymousAnswer {
  readonly refusal: Refusal;
  readonly ban: BanVerdict | undefined;
  /** What earned the ban: the verdict's reason or the credential's. */
  readonly cause: string;
}

function answerAnonymous(verdict: GateVerdict, draining: boolean, rejection: CredentialRejection): AnonymousAnswer {
  if (!verdict.ok) {
    const { status, reason, retryAfterMs } = verdict;
    return { refusal: { status, reason, retryAfterMs }, ban: verdict.ban, cause: reason };
  }
  // While draining the attempt was not penalised (see gateStream), so there is no ban to log.
  if (draining) return { refusal: { status: 503, reason: 'draining' }, ban: undefined, cause: 'draining' };
  return { refusal: { status: 401, reason: rejection }, ban: verdict.ban, cause: rejection };
}

/** What the stream route receives; `slot` is released when the TCP socket closes. */
export type GuardedStreamAuth = StreamAuth & { readonly slot: { readonly ip: string; release(): void } };

export function installGuard(app: FastifyInstance, opts: GuardOptions): Guard {
  const { config, registry, metrics } = opts;
  const clock = opts.now ?? Date.now;
  const streamPath = opts.streamPath ?? '/twilio/stream';
  const webhookPrefix = opts.webhookPrefix ?? '/twilio/';
  const streamUrlBase = publicWsBase(config) + streamPath;
  const hashIp = ipHasher(config.streamSecret);
  const store =
    opts.store instanceof MemoryStore
      ? opts.store
      : new ResilientStore(opts.store, new MemoryStore(guardLimits(config)), {
          deadlineMs: opts.deadlineMs,
          probeIntervalMs: opts.probeIntervalMs,
          log: app.log,
          metrics,
        });

  // Pre-bound counters: a refusal during a flood costs one addition, not a label lookup.
  const rejected = new Map<string, { inc(): void }>();
  const count = (reason: string): void => {
    let child = rejected.get(reason);
    if (child === undefined) rejected.set(reason, (child = metrics.rejections.labels(reason)));
    child.inc();
  };

  // The lane answers before the app's onResponse hook could count the request, so it counts it
  // there itself, under the route Fastify would have matched (laneToken makes sure it would).
  const streamRoute = `${streamPath}/:token`;
  const answered = new Map<number, { inc(): void }>();
  const countAnswered = (status: number): void => {
    let child = answered.get(status);
    if (child === undefined) answered.set(status, (child = metrics.httpRequests.labels(streamRoute, 'GET', String(status))));
    child.inc();
  };

  /** One request being judged. */
  interface Judged {
    readonly request: FastifyRequest;
    readonly reply: FastifyReply;
    readonly ip: string;
    readonly now: number;
  }

  const say = (at: Judged, refusal: Refusal): void => {
    count(refusal.reason);
    at.request.log.debug({ ip: at.ip, status: refusal.status, reason: refusal.reason }, 'guard refused');
    refuse(at.reply, refusal);
  };

  /** New bans: a first cooldown at debug (one per offending IP); floods and escalations at info, IP hashed. */
  type LogBan = (log: FastifyBaseLogger, ip: string, now: number, ban: BanVerdict | undefined, cause: string) => void;
  const logBan: LogBan = (log, ip, now, ban, cause) => {
    if (ban?.fresh !== true) return;
    const seconds = Math.ceil((ban.until - now) / 1000);
    const fields = { ipHash: hashIp(ip), cause, label: ban.label, seconds, strikes: ban.strikes };
    if (ban.strikes > 1 || cause === 'flood') log.info(fields, 'guard ban');
    else log.debug({ ...fields, ip }, 'guard cooldown');
  };

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
      forwarded.learn(request.raw.socket.remoteAddress, request.headers['x-forwarded-for'], request.ip);
    }
    const credentials = credentialsOf(token, request.headers['x-twilio-signature'], now);

    if (!credentials.ok) {
      const agent = agentKey(ip, request.headers['user-agent']);
      const verdict = await store.attempt(ip, agent, now, !registry.draining);
      const answer = answerAnonymous(verdict, registry.draining, credentials.reason);
      logBan(request.log, ip, now, answer.ban, answer.cause);
      return say(at, answer.refusal);
    }

    // Valid credentials: capacity first (local and cheap), then single use, then the slot.
    // (A token claimed and then refused for capacity stays used: Twilio does not retry a stream.)
    // Streams only: a pre-warmed upstream reserved for this very call must not refuse its stream.
    if (registry.streams >= config.maxCalls) return say(at, { status: 503, reason: 'capacity' });
    if (registry.streamsFrom(ip) >= config.maxStreamsPerIp) return say(at, { status: 429, reason: 'ip_cap' });
    const id = tokenId(credentials.callSid, credentials.expiresAt);
    if (!(await store.claimToken(id, credentials.expiresAt * 1000, now))) return say(at, { status: 409, reason: 'token_reused' });
    // Authoritative and synchronous: two upgrades racing for the last slot cannot both get it.
    const slot = registry.tryAcquire(ip);
    if (slot === 'capacity') return say(at, { status: 503, reason: 'capacity' });
    if (slot === 'ip_cap') return say(at, { status: 429, reason: 'ip_cap' });
    // Held until the TCP socket closes, so the caps count real sockets whatever the route does.
    const socket = request.raw.socket;
    socket.once('close', () => slot.release());
    if (socket.destroyed) slot.release(); // the client left during the claim
    const auth: GuardedStreamAuth = { callSid: credentials.callSid, token, expiresAt: credentials.expiresAt, slot };
    request.streamAuth = auth;
    request.log.debug({ callSid: credentials.callSid }, 'stream upgrade admitted');
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
    const token = streamTokenOf(request.url, streamPath);
    if (token !== undefined && isUpgrade(request.raw)) return gateStream(at, token);
    // Signed webhooks: Twilio's shared IPs must not be locked out; the route verifies and reports.
    const signed = request.headers['x-twilio-signature'] !== undefined;
    if (signed && request.method === 'POST' && request.url.startsWith(webhookPrefix)) return;
    // A valid API or metrics token is a credential too: never refused for its IP's record.
    if (hasBearer(request.headers.authorization, config.apiToken) || hasBearer(request.headers.authorization, config.metricsToken)) return;
    const verdict = await store.hit(at.ip, at.now);
    if (!verdict.ok) refuseGate(at, verdict);
  });

  app.addHook('onResponse', (request, _reply, done) => {
    destroyUpgradeSocket(request.raw);
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
      void store.penalize(ip, now).then((ban) => logBan(request.log, ip, now, ban, reason));
    },
    close: () => store.close(),
  };
}
