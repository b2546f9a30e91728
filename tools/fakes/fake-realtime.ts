/**
 * A fake OpenAI Realtime API (GA protocol) over a real WebSocket server on 127.0.0.1:<random port>.
 * It accepts upgrades the way the real API does (path, Bearer key, optional refusal or handshake
 * delay) and hands each connection to a FakeRealtimeConnection (fake-realtime-connection.ts), which
 * records what the bridge sends and plays the model. Plain TypeScript, no test-runner imports.
 */
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FakeRealtimeConnection } from './fake-realtime-connection.js';
import type { ClientEventOf, RealtimeClientEvent } from './realtime-events.js';
import { Recorder } from './recorder.js';

export type EventHook = (event: RealtimeClientEvent, connection: FakeRealtimeConnection) => void | Promise<void>;

export interface FakeRealtimeOptions {
  /** Delay before completing each upgrade, in ms (first-audio latency benchmarks). @default 0 */
  handshakeDelayMs?: number;
  /** Send `session.created` on connect. @default true */
  autoSessionCreated?: boolean;
  /** Answer session.update → session.updated, truncate → conversation.item.truncated, response.cancel. @default true */
  autoReply?: boolean;
  /** Called as each upgrade request arrives, before the handshake delay and any refusal. */
  onUpgrade?: (req: IncomingMessage) => void;
  /** Called for every valid client event, after recording and auto replies. */
  onEvent?: EventHook;
  /** When set, upgrades without `Authorization: Bearer <apiKey>` are refused with 401. */
  apiKey?: string;
  /** @default '/v1/realtime' */
  path?: string;
}

/** The fake upstream server. Create with `startFakeRealtime()`. */
export class FakeRealtime {
  /** ws://127.0.0.1:PORT/v1/realtime */
  url = '';
  port = 0;
  readonly connections: FakeRealtimeConnection[];
  readonly autoReply: boolean;
  /** Errors thrown by the `onEvent` hook: collected, so a script bug cannot crash the process. */
  readonly hookErrors: unknown[] = [];

  private readonly opts: FakeRealtimeOptions;
  private readonly http = createServer((_req, res) => res.writeHead(426, { Connection: 'close' }).end());
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });
  private readonly connRecorder = new Recorder<FakeRealtimeConnection>('fake realtime', () => 'connection');
  private readonly eventRecorder = new Recorder<{ connection: FakeRealtimeConnection; event: RealtimeClientEvent }>(
    'fake realtime',
    (r) => r.event.type,
  );
  /** Upgrades waiting out `handshakeDelayMs`: socket → timer. */
  private readonly pendingUpgrades = new Map<Socket, NodeJS.Timeout>();
  private upgradeFailure: number | null = null;
  private closing = false;

  constructor(opts: FakeRealtimeOptions = {}) {
    this.opts = opts;
    this.autoReply = opts.autoReply ?? true;
    this.connections = this.connRecorder.items;
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${this.port}${this.opts.path ?? '/v1/realtime'}`;
  }

  get openCount(): number {
    return this.connections.filter((c) => c.isOpen).length;
  }
  get totalConnections(): number {
    return this.connections.length;
  }
  /** Upgrade requests received, including refused and still-delayed ones. */
  upgradeAttempts = 0;

  /** Resolves with connection number `index` (0-based) once it is open, including one already open. */
  waitForConnection(index = 0, timeoutMs = 5000): Promise<FakeRealtimeConnection> {
    return this.connRecorder.waitFor((c) => c.index === index, `connection #${index}`, timeoutMs);
  }

  /** First matching client event on any connection, already received or future. */
  async waitForEvent<T extends string>(type: T, predicate?: (event: ClientEventOf<T>) => boolean, timeoutMs = 5000): Promise<ClientEventOf<T>> {
    const { event } = await this.eventRecorder.waitFor(
      (r) => r.event.type === type && (predicate === undefined || predicate(r.event as ClientEventOf<T>)),
      `client event ${type}`,
      timeoutMs,
    );
    return event as ClientEventOf<T>;
  }

  appendedAudio(connection: FakeRealtimeConnection): Buffer {
    return connection.appendedAudio();
  }

  /** From now on refuse upgrades with this HTTP status (upstream down / bad key); null accepts again. */
  failUpgrades(status: number | null): void {
    this.upgradeFailure = status;
  }

  /** Terminates every client and pending upgrade, then closes the server. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [socket, timer] of this.pendingUpgrades) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.pendingUpgrades.clear();
    for (const connection of this.connections) connection.socket.terminate();
    await Promise.all(this.connections.map((c) => c.closed));
    this.connRecorder.end('fake realtime closed');
    this.eventRecorder.end('fake realtime closed');
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** @internal called by connections */
  recordEvent(connection: FakeRealtimeConnection, event: RealtimeClientEvent): void {
    this.eventRecorder.push({ connection, event });
  }

  /** @internal called by connections */
  runHook(event: RealtimeClientEvent, connection: FakeRealtimeConnection): void {
    const hook = this.opts.onEvent;
    if (hook === undefined) return;
    try {
      const result = hook(event, connection);
      if (result instanceof Promise) result.catch((err: unknown) => this.hookErrors.push(err));
    } catch (err) {
      this.hookErrors.push(err);
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined); // a client vanishing mid-handshake is not our failure
    this.upgradeAttempts++;
    this.opts.onUpgrade?.(req);
    const proceed = (): void => {
      this.pendingUpgrades.delete(socket);
      if (this.closing || socket.destroyed) return void socket.destroy();
      const pathname = new URL(req.url ?? '/', 'http://fake').pathname;
      if (pathname !== (this.opts.path ?? '/v1/realtime')) return refuse(socket, 404);
      if (this.upgradeFailure !== null) return refuse(socket, this.upgradeFailure);
      if (this.opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.apiKey}`) return refuse(socket, 401);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    };
    const delay = this.opts.handshakeDelayMs ?? 0;
    if (delay <= 0) return proceed();
    const timer = setTimeout(proceed, delay); // cleared by close()
    this.pendingUpgrades.set(socket, timer);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    if (this.closing) return void ws.terminate();
    const connection = new FakeRealtimeConnection(this, this.connections.length, ws, req);
    this.connRecorder.push(connection);
    if (this.opts.autoSessionCreated ?? true) connection.send({ type: 'session.created', session: connection.session });
  }
}

function refuse(socket: Socket, status: number): void {
  const body = JSON.stringify({ error: { message: STATUS_CODES[status] ?? 'refused' } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Starts a fake Realtime server on 127.0.0.1 and a random port. */
export async function startFakeRealtime(opts: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
  const fake = new FakeRealtime(opts);
  await fake.listen();
  return fake;
}
