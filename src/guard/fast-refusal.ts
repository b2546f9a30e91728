/**
 * The fast lane: anonymous stream upgrades refused on the raw socket, before Fastify.
 *
 * @fastify/websocket listens for the server's 'upgrade' event and routes every upgrade request
 * through Fastify (a Request, a Reply, a child logger, the hooks), which costs about as much as
 * the TCP work itself when all that follows is a refusal. During a flood almost every attempt is
 * one the guard can judge at once: a forged token (one HMAC) from an address it already holds a
 * ban for. `screenUpgrades` puts one listener in front of the existing ones; it asks `screen`
 * first, and only requests that `screen` did not answer go on, unchanged, to the listeners that
 * were there (so everything not decidable synchronously takes the normal path).
 *
 * `refuseOnSocket` writes a prebuilt response and closes the socket once it is written: no
 * ServerResponse, no serialisation, no Error objects.
 *
 * Requests passed on get an idle deadline on their socket (`settleMs`): ws clears it when it
 * takes the socket over (setTimeout(0)), and the guard closes refused ones itself, but Fastify
 * answers a few malformed URLs (400 for a bad escape, 414 for an over-long parameter) straight
 * from its router, with no hook; without the deadline such a socket would stay open (half-open
 * even after the client leaves, since HTTP sockets allow it) and hold up app.close() forever.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Socket as NetSocket, type Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { CountHttpRequest } from '../http-requests.js';
import { MAX_TOKEN_LENGTH } from '../twilio/stream-token.js';
import { agentKey, clientKey } from './client-ip.js';
import { streamTokenOf, type CredentialVerdict } from './credentials.js';
import type { ForwardedClients } from './forwarded-clients.js';
import { judgeUpgrade } from './judge.js';
import { isUpgrade, rawRefusal } from './refuse.js';
import type { ImmediateDecisions } from './store.js';
import type { Verdicts } from './verdicts.js';

type UpgradeListener = (this: Server, req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** True when it answered the request itself (and has the socket closing); false to pass it on. */
export type UpgradeScreen = (req: IncomingMessage, socket: Duplex) => boolean;

/**
 * How long a passed-on upgrade socket may sit idle before it is closed, ms: far longer than any
 * upgrade takes to be judged (the guard's store deadline is 50 ms). @default 10_000
 */
export const UPGRADE_SETTLE_MS = 10_000;

function closeIfIdle(this: Socket): void {
  this.destroy();
}

/**
 * Screens the server's upgrade requests with `screen` before the listeners registered so far.
 * Returns the undo (idempotent), which puts those listeners back as they were.
 */
export function screenUpgrades(
  server: Server,
  screen: UpgradeScreen,
  opts: { readonly settleMs?: number | undefined; readonly onError?: (err: unknown) => void } = {},
): () => void {
  const settleMs = opts.settleMs ?? UPGRADE_SETTLE_MS;
  const downstream = server.listeners('upgrade') as UpgradeListener[];
  // With no listener Node answers upgrades as plain requests: nothing to put a screen in front of.
  if (downstream.length === 0) return () => {};
  for (const listener of downstream) server.removeListener('upgrade', listener);
  const dispatch: UpgradeListener = function (req, socket, head) {
    try {
      if (screen(req, socket)) return;
    } catch (err) {
      // A throw in an 'upgrade' listener would take the process down; the normal path judges it.
      opts.onError?.(err);
      if (socket.destroyed) return;
    }
    if (socket instanceof NetSocket) {
      socket.setTimeout(settleMs);
      socket.once('timeout', closeIfIdle);
    }
    for (const listener of downstream) listener.call(this, req, socket, head);
  };
  server.on('upgrade', dispatch);
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    server.removeListener('upgrade', dispatch);
    for (const listener of downstream) server.on('upgrade', listener);
  };
}

/** Unreserved URL characters only (base64url, '.', '~'): nothing the router decodes or splits on. */
const PLAIN_TOKEN = /^[A-Za-z0-9._~-]*$/;

/**
 * The token of a request the lane may answer: a GET to `streamPath/<token>` (query ignored) that
 * Fastify's router certainly sends to the `streamPath/:token` route, so the lane can count it in
 * `http_requests_total` under that route as the app's onResponse hook would. Undefined for
 * anything else (other methods, `%` escapes, extra segments, tokens longer than `maxLength`):
 * those are rare, and Fastify judges them.
 */
export function laneToken(req: IncomingMessage, streamPath: string, maxLength: number): string | undefined {
  // (`streamPath` itself matches no route: Fastify's 404, not the stream route's.)
  if (req.method !== 'GET' || req.url === undefined || !req.url.startsWith(`${streamPath}/`)) return undefined;
  const token = streamTokenOf(req.url, streamPath);
  if (token === undefined || token.length > maxLength || !PLAIN_TOKEN.test(token)) return undefined;
  return token;
}

const ignore = (): void => {};

/**
 * Writes `response` (ASCII) and destroys the socket once it is flushed. Node removed its own
 * error listener before emitting 'upgrade', so one is added: a client that resets the connection
 * while we write must not become an uncaught error.
 */
export function refuseOnSocket(socket: Socket, response: string): void {
  socket.on('error', ignore);
  socket.write(response, 'latin1');
  // Usually the kernel took all of it at once: closing the descriptor now sends it, then FIN,
  // and saves a shutdown() and a tick. Otherwise end() now and destroy() on 'finish'. Either way
  // the socket is never left half-open (HTTP sockets allow it) by a client that neither reads
  // nor closes.
  if (socket.writableLength === 0) socket.destroy();
  else socket.destroySoon();
}

export interface LaneOptions {
  readonly streamPath: string;
  /** Behind trusted proxies: the client addresses the hook saw (forwarded-clients.ts); else the socket's. */
  readonly forwarded: ForwardedClients | undefined;
  /** The same credential check the hook runs (stream-admission.ts `streamCredentials`). */
  readonly credentials: (token: string, headers: IncomingHttpHeaders, now: number) => CredentialVerdict;
  readonly store: Pick<ImmediateDecisions, 'attemptNow'>;
  readonly draining: () => boolean;
  readonly clock: () => number;
  readonly verdicts: Pick<Verdicts, 'record'>;
  readonly log: FastifyBaseLogger;
  readonly countHttp: CountHttpRequest;
}

/**
 * The lane's screen: answers an anonymous stream upgrade on the raw socket when the store decides
 * it at once. The verdict is the hook's (judge.ts) and is recorded as the hook records it
 * (verdicts.ts); the lane only decides whether it can answer here. The client key must be the one
 * Fastify computes: the socket's address, or behind trusted proxies the one the hook saw for the
 * same peer and X-Forwarded-For; unknown, the hook judges.
 */
export function laneScreen(opts: LaneOptions): UpgradeScreen {
  const { streamPath, forwarded, store, verdicts, log } = opts;
  const route = `${streamPath}/:token`;
  return (req, socket) => {
    if (!(socket instanceof NetSocket)) return false;
    const address = forwarded === undefined ? socket.remoteAddress : forwarded.lookup(socket.remoteAddress, req.headers['x-forwarded-for']);
    if (address === undefined) return false;
    const token = laneToken(req, streamPath, MAX_TOKEN_LENGTH);
    if (token === undefined || !isUpgrade(req)) return false;
    const now = Math.floor(opts.clock());
    const credentials = opts.credentials(token, req.headers, now);
    const draining = opts.draining();
    if (judgeUpgrade({ credentials, draining, attempt: undefined }).kind !== 'ask_store') return false; // the hook admits
    const ip = clientKey(address);
    const attempt = store.attemptNow(ip, agentKey(ip, req.headers['user-agent']), now, !draining);
    const verdict = judgeUpgrade({ credentials, draining, attempt });
    if (verdict.kind !== 'refuse') return false; // only the shared store can tell: the hook asks it
    verdicts.record(log, ip, now, verdict.answer);
    // Answered before the app's onResponse hook could count it: counted here, under the route
    // Fastify would have matched (laneToken makes sure it would).
    opts.countHttp(route, 'GET', verdict.answer.refusal.status);
    refuseOnSocket(socket, rawRefusal(verdict.answer.refusal));
    return true;
  };
}
