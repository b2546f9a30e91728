/**
 * The real app (buildApp) for the guard's socket tests, listening on 127.0.0.1:0, with a fake
 * wall clock the tests move, its logs captured, and two things only a test needs: the stream
 * upgrades the guard admitted (`accepted`) and the requests that reached Fastify's hooks (`seen`;
 * the fast lane answers others on the raw socket). A plain route, GET /probe, stands for any
 * ordinary route under the guard's rules (the health routes are exempt from bans). The Realtime
 * API is a local stand-in (OPENAI_REALTIME_URL), so signed webhooks pre-warm as in production.
 *
 * Tests that tune the guard (store deadline, probe interval, upgrade settle time, fast lane off)
 * pass those through AppDeps.guard, to the same app.
 *
 * Clients connect from other loopback addresses (`localAddress: '127.0.0.N'`) to stand for
 * different source IPs.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import twilio from 'twilio';
import { WebSocket } from 'ws';
import { buildApp, type AppDeps } from '../../src/app.js';
import { CallRegistry } from '../../src/call-registry.js';
import { publicWsBase, type Config } from '../../src/config.js';
import { MemoryStore, guardLimits, type Guard, type GuardStore, type GuardedStreamAuth } from '../../src/guard/index.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { startFakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { TEST_OPENAI_KEY, testConfig } from '../helpers/config.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

export interface Harness {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly guard: Guard;
  readonly registry: CallRegistry;
  readonly metrics: Metrics;
  readonly logs: LogCapture;
  readonly port: number;
  /** Stream upgrades the guard admitted, in order (what the stream route was handed). */
  readonly accepted: GuardedStreamAuth[];
  /** URLs of the requests that reached Fastify's hooks (the guard's fast lane answers others first). */
  readonly seen: string[];
  /** Fake wall clock, ms; tests move it. */
  clock: number;
  close(): Promise<void>;
}

export interface HarnessOptions extends NonNullable<AppDeps['guard']> {
  readonly env?: Record<string, string | undefined>;
  /** Default: a fresh MemoryStore with the config's limits. */
  readonly store?: (config: Config) => GuardStore;
  readonly maxConnectionsPerIp?: number;
}

export const T0 = 1_750_000_000_000;

/** A startHarness that closes every harness it started after each test of the calling file. */
export function harnessPerTest(): (opts?: HarnessOptions) => Promise<Harness> {
  const track = closeAfterEach();
  return async (opts) => track(await startHarness(opts));
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const realtime = await startFakeRealtime({ apiKey: TEST_OPENAI_KEY });
  const config = testConfig({ LOG_LEVEL: 'debug', OPENAI_REALTIME_URL: realtime.url, ...opts.env });
  const logs = captureLogs(config);
  const h = { clock: T0 } as { clock: number };
  const deps = {
    logger: logs.logger,
    metrics: createMetrics({ processDefaults: false }),
    registry: new CallRegistry(config),
    clock: { wall: () => h.clock },
    guardStore: opts.store?.(config) ?? new MemoryStore(guardLimits(config)),
    maxConnectionsPerIp: opts.maxConnectionsPerIp,
  };
  const { deadlineMs, probeIntervalMs, upgradeSettleMs, fastLane } = opts;
  const app = await buildApp(config, { ...deps, guard: { deadlineMs, probeIntervalMs, upgradeSettleMs, fastLane } });

  // Added after the app's own hooks, so they see what the guard let through; what it refused in
  // its own hook is seen as it is answered. (Fastify answers some requests from its router, 414
  // and 400, without any hook: those are not seen.)
  const accepted: GuardedStreamAuth[] = [];
  const seen: string[] = [];
  const counted = new WeakSet<FastifyRequest>();
  const see = (request: FastifyRequest): void => {
    if (counted.has(request)) return;
    counted.add(request);
    seen.push(request.url);
  };
  app.addHook('onRequest', (request, _reply, done) => {
    see(request);
    // Set by the guard only for an admitted stream upgrade (src/guard/stream-admission.ts).
    if (request.streamAuth !== undefined) accepted.push(request.streamAuth as GuardedStreamAuth);
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    see(request);
    done();
  });
  app.get('/probe', async () => ({ ok: true }));

  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return Object.assign(h, {
    app,
    config,
    guard: app.guard,
    registry: deps.registry,
    metrics: deps.metrics,
    logs,
    port,
    accepted,
    seen,
    async close() {
      await app.close(); // the guard and its store close with the app
      await realtime.close();
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
