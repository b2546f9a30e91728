/**
 * A minimal app around the guard for socket tests: Fastify + @fastify/websocket with a stand-in
 * stream route and webhook, listening on 127.0.0.1:0. Built here rather than through buildApp so
 * these tests pin the guard's behaviour on their own; the app-level tests go through buildApp.
 *
 * Clients connect from other loopback addresses (`localAddress: '127.0.0.N'`) to stand for
 * different source IPs.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { WebSocket } from 'ws';
import { CallRegistry } from '../../src/call-registry.js';
import { publicWsBase, type Config } from '../../src/config.js';
import { installGuard, MemoryStore, guardLimits, type Guard, type GuardStore, type GuardedStreamAuth } from '../../src/guard/index.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { httpRequestCounter } from '../../src/http-requests.js';
import { mintStreamToken, MAX_TOKEN_LENGTH } from '../../src/twilio/stream-token.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { testConfig } from '../helpers/config.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

export interface Harness {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly guard: Guard;
  readonly registry: CallRegistry;
  readonly metrics: Metrics;
  readonly logs: LogCapture;
  readonly port: number;
  /** Stream sockets the stand-in route accepted (what a real route would bridge upstream). */
  readonly accepted: GuardedStreamAuth[];
  /** URLs of the requests that reached Fastify's hooks (the guard's fast lane answers others first). */
  readonly seen: string[];
  /** Fake wall clock, ms; tests move it. */
  clock: number;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly env?: Record<string, string | undefined>;
  /** Default: a fresh MemoryStore with the config's limits. */
  readonly store?: (config: Config) => GuardStore;
  readonly deadlineMs?: number;
  readonly probeIntervalMs?: number;
  readonly upgradeSettleMs?: number;
  readonly fastLane?: boolean;
  readonly maxConnectionsPerIp?: number;
}

export const T0 = 1_750_000_000_000;

/** A startHarness that closes every harness it started after each test of the calling file. */
export function harnessPerTest(): (opts?: HarnessOptions) => Promise<Harness> {
  const track = closeAfterEach();
  return async (opts) => track(await startHarness(opts));
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const config = testConfig({ LOG_LEVEL: 'debug', ...opts.env });
  const logs = captureLogs(config);
  const registry = new CallRegistry(config);
  const metrics = createMetrics({ processDefaults: false });
  const app = Fastify({
    loggerInstance: logs.logger as FastifyBaseLogger,
    trustProxy: config.trustProxy === false ? false : [...config.trustProxy],
    routerOptions: { maxParamLength: MAX_TOKEN_LENGTH + 16 },
    logController: new LogController({ disableRequestLogging: true }),
  });
  const accepted: GuardedStreamAuth[] = [];
  const seen: string[] = [];
  // Before the guard's hook, so it counts every request Fastify gets, refused or not.
  app.addHook('onRequest', (request, _reply, done) => {
    seen.push(request.url);
    done();
  });
  // As buildApp counts requests (src/app.ts), so tests can compare what the fast lane counts.
  app.addHook('onResponse', (request, reply, done) => {
    httpRequestCounter(metrics)(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
    done();
  });
  const h = { clock: T0 } as { clock: number };
  const guard = installGuard(app, {
    config,
    registry,
    metrics,
    store: opts.store?.(config) ?? new MemoryStore(guardLimits(config)),
    now: () => h.clock,
    deadlineMs: opts.deadlineMs,
    probeIntervalMs: opts.probeIntervalMs,
    upgradeSettleMs: opts.upgradeSettleMs,
    fastLane: opts.fastLane,
    maxConnectionsPerIp: opts.maxConnectionsPerIp,
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  await app.register(websocket);
  app.get('/twilio/stream/:token', { websocket: true }, (socket, request) => {
    const auth = request.streamAuth as GuardedStreamAuth | undefined;
    if (!auth) {
      socket.close(1008, 'unauthorized');
      return;
    }
    accepted.push(auth);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  // An ordinary route under the guard's rules (bans, flood): the health routes are exempt from bans.
  app.get('/probe', async () => ({ ok: true }));
  app.post('/twilio/voice', async (request, reply) => {
    const signature = request.headers['x-twilio-signature'];
    const body = (request.body ?? {}) as Record<string, string>;
    const given = typeof signature === 'string' ? signature : '';
    const ok = twilio.validateRequest(config.twilioAuthToken!, given, config.publicUrl + request.url, body);
    if (!ok) {
      guard.reportRejectedCredential(request, 'bad_signature');
      return reply.code(403).send({ error: 'Forbidden', reason: 'bad_signature' });
    }
    return reply.type('text/xml').send('<Response/>');
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return Object.assign(h, {
    app,
    config,
    guard,
    registry,
    metrics,
    logs,
    port,
    accepted,
    seen,
    async close() {
      await app.close();
      await guard.close();
    },
  });
}

let sid = 0;
/** A fresh valid token for a new CallSid, minted at the harness clock. */
export function tokenFor(h: Pick<Harness, 'config' | 'clock'>, ttlSeconds = 300): { token: string; callSid: string } {
  const callSid = `CA${(++sid).toString(16).padStart(32, '0')}`;
  return { callSid, token: mintStreamToken(h.config.streamSecret, callSid, h.clock, ttlSeconds) };
}

/** Twilio's signature of the stream URL for `token` (no params), as on a real upgrade. */
export function upgradeSignature(config: Config, token: string): string {
  return twilio.getExpectedTwilioSignature(config.twilioAuthToken!, `${publicWsBase(config)}/twilio/stream/${token}`, {});
}

export interface UpgradeResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
  /** Open socket on 101; the caller closes it. */
  readonly ws?: WebSocket;
}

/** Attempts a WebSocket upgrade from `from` (a 127.x address) and reports how it was answered. */
export function upgrade(
  h: Pick<Harness, 'port'>,
  path: string,
  opts: { from?: string; headers?: Record<string, string> } = {},
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${path}`, {
      localAddress: opts.from ?? '127.0.0.1',
      headers: opts.headers,
    });
    ws.once('open', () => resolve({ status: 101, headers: {}, body: undefined, ws }));
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        req.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Closes a client socket and waits until the server side has seen it close. */
export async function hangUp(ws: WebSocket | undefined): Promise<void> {
  if (!ws) return;
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

/** A plain HTTP request from `from`; resolves with status, headers and parsed body. */
export function httpCall(
  h: Pick<Harness, 'port'>,
  method: string,
  path: string,
  opts: { from?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Record<string, unknown> | string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: h.port, method, path, localAddress: opts.from ?? '127.0.0.1', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> | string = text;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON (TwiML)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.once('error', reject);
    req.end(opts.body);
  });
}

export interface RawAnswer {
  /** Everything the server wrote (latin1). */
  readonly text: string;
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The server closed the connection (within `giveUpMs`). */
  readonly closed: boolean;
}

/**
 * A WebSocket upgrade request over a plain TCP socket from `from`: what the server wrote, and
 * whether it closed the connection itself. `giveUpMs` bounds the wait for the close; it is a
 * liveness bound, not a speed claim.
 */
export function rawUpgrade(
  h: Pick<Harness, 'port'>,
  path: string,
  opts: { from?: string; headers?: Record<string, string>; giveUpMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: h.port, localAddress: opts.from ?? '127.0.0.1' });
    let text = '';
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0), headers, body, closed });
    };
    const timer = setTimeout(() => finish(false), opts.giveUpMs ?? 3_000);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
    );
  });
}

/** http_requests_total as `route method status` → count. */
export async function httpCounts(metrics: Metrics): Promise<Record<string, number>> {
  const data = await metrics.httpRequests.get();
  return Object.fromEntries(data.values.map((v) => [`${v.labels.route} ${v.labels.method} ${v.labels.status}`, v.value]));
}

/** rejections_total{reason} as a plain object. */
export async function rejectionCounts(metrics: Metrics): Promise<Record<string, number>> {
  const data = await metrics.rejections.get();
  return Object.fromEntries(data.values.map((v) => [String(v.labels.reason), v.value]));
}
