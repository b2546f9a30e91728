/**
 * The shell the two baseline relays share (bench/relay-floor.ts, bench/relay-naive.ts): a bare
 * node:http server that answers Twilio's voice webhook with prebuilt stream TwiML (no signature
 * check), GET /healthz, and the same loopback-only /__bench/stats and /__bench/gc routes as
 * bench-bridge.ts, so the harness starts, measures and stops all three servers alike. The relay
 * itself is the `upgrade` handler each baseline passes in.
 *
 * As a process (runBaselineProcess), configured like every server spawnBridge starts: PORT, HOST,
 * OPENAI_REALTIME_URL. Tests serve a relay in-process (startBaselineServer).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { loopbackOnly, processStats, startLagMonitor } from './process-stats.js';

/**
 * Message counters under the bridge's own metric names, so capacity.ts reads all servers alike.
 * Four integer increments per message: the only bookkeeping the baselines do.
 */
export class RelayCounters {
  twilioIn = 0;
  twilioOut = 0;
  upstreamIn = 0;
  upstreamOut = 0;
  live = 0;

  toRecord(): Record<string, number> {
    return {
      'voice_bridge_ws_messages_total{peer="twilio",direction="in"}': this.twilioIn,
      'voice_bridge_ws_messages_total{peer="twilio",direction="out"}': this.twilioOut,
      'voice_bridge_ws_messages_total{peer="upstream",direction="in"}': this.upstreamIn,
      'voice_bridge_ws_messages_total{peer="upstream",direction="out"}': this.upstreamOut,
    };
  }
}

/** A baseline relay: what it does with a Twilio stream upgrade, and its counters. */
export interface Relay {
  readonly counters: RelayCounters;
  /** Called for every upgrade on /twilio/stream/…; owns the socket from then on. */
  onStreamUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Terminates every socket the relay holds. */
  close(): void;
}

export interface BaselineServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `relay` on host:port (0: any free port). */
export async function startBaselineServer(relay: Relay, listen: { port: number; host: string }): Promise<BaselineServer> {
  const lag = startLagMonitor();
  let twiml = Buffer.alloc(0);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/twilio/voice') {
      req.resume();
      req.once('end', () => res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': twiml.length }).end(twiml));
      return;
    }
    if (req.method === 'GET' && path === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    if (path?.startsWith('/__bench/') && !loopbackOnly(req.socket.remoteAddress)) return void res.writeHead(403).end();
    if (req.method === 'GET' && path === '/__bench/stats') {
      const stats = processStats(lag, { sessions: relay.counters.live, liveCalls: relay.counters.live, counters: relay.counters.toRecord() });
      if (new URL(req.url ?? '/', 'http://x').searchParams.get('reset') === '1') lag.reset();
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(stats));
    }
    if (req.method === 'POST' && path === '/__bench/gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) return void res.writeHead(501).end('{"error":"run with --expose-gc"}');
      gc();
      gc();
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(process.memoryUsage()));
    }
    res.writeHead(404).end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!(req.url ?? '').startsWith('/twilio/stream/')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    relay.onStreamUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  // Prebuilt once: the stream URL carries no token (nothing checks it).
  twiml = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="ws://${listen.host}:${port}/twilio/stream/baseline">` +
      '<Parameter name="direction" value="inbound"/></Stream></Connect></Response>',
  );
  return {
    port,
    close: () => {
      lag.disable();
      relay.close();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Runs a baseline as its own process, configured as spawnBridge configures every server (PORT,
 * HOST, OPENAI_REALTIME_URL); SIGTERM closes it and exits 0.
 */
export async function runBaselineProcess(name: string, makeRelay: (upstreamUrl: string) => Relay): Promise<void> {
  const upstreamUrl = process.env['OPENAI_REALTIME_URL'];
  if (!upstreamUrl) throw new Error(`${name}: OPENAI_REALTIME_URL is not set`);
  const server = await startBaselineServer(makeRelay(upstreamUrl), { port: Number(process.env['PORT'] ?? 0), host: process.env['HOST'] ?? '127.0.0.1' });
  process.once('SIGTERM', () => {
    // The benchmark has hung every call up already: don't wait on stragglers.
    setTimeout(() => process.exit(0), 2000).unref();
    void server.close().then(() => process.exit(0)); // close() only resolves (when the server has closed)
  });
}

/** Whether the module at `moduleUrl` is the process's entry point (not imported by a test). */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && moduleUrl === pathToFileURL(entry).href;
}
