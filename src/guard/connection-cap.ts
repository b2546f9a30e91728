/**
 * A cap on the HTTP connections one client address holds open at once.
 *
 * Timeouts (src/app.ts) bound how long one slow socket lives; this bounds how many one address
 * can hold meanwhile. Without it, 1,300 slow-body sockets from one address exhausted the file
 * descriptors and signed Twilio webhooks got ECONNRESET.
 *
 * Counted on the server's raw 'connection' event, before a byte is parsed; the connection over
 * the cap is destroyed at once (the client sees a reset: no response is cheaper than one).
 * Sockets already open are never cut by the cap: it only refuses new ones.
 *
 * Who is never capped, and why:
 * - A trusted proxy (TRUST_PROXY): every client behind it shares its address.
 * - Admitted media streams: the guard `adopt`s a socket once a stream with valid credentials is
 *   admitted, and from then on it counts toward MAX_STREAMS_PER_IP (the call registry) instead.
 *   Twilio's media servers share egress IPs, so one of them may carry many of our calls; with
 *   streams out of the count, only its in-flight webhooks and idle keep-alive sockets count, and
 *   the cap (256) stays far above what a Twilio address needs while a single host flooding us
 *   with sockets meets it early.
 *
 * `ConnectionCounts` is the pure core (counts per key); `capConnections` is the server wiring;
 * `guardConnections` is how the guard applies it (keys, exemptions, metric, log line).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { clientKey } from './client-ip.js';
import { LogThrottle } from './log-throttle.js';
import { trustedPeers } from './trusted-peers.js';
import type { Verdicts } from './verdicts.js';

/**
 * Open HTTP connections per client address (IPv6 by /64, see clientKey), not counting admitted
 * media streams. @default 256
 */
export const MAX_CONNECTIONS_PER_IP = 256;

export class ConnectionCounts {
  readonly #max: number;
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** Counts a new connection for `key`; false (and nothing counted) when it would exceed the cap. */
  tryOpen(key: string): boolean {
    const held = this.#open.get(key) ?? 0;
    if (held >= this.#max) return false;
    this.#open.set(key, held + 1);
    this.#total += 1;
    return true;
  }

  /** One connection of `key` closed (or left the count). */
  close(key: string): void {
    const held = this.#open.get(key);
    if (held === undefined) return;
    if (held <= 1) this.#open.delete(key);
    else this.#open.set(key, held - 1);
    this.#total -= 1;
  }

  of(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  /** Connections counted, all addresses. */
  get total(): number {
    return this.#total;
  }

  /** Addresses with at least one counted connection. */
  get addresses(): number {
    return this.#open.size;
  }
}

export interface ConnectionCapOptions {
  readonly max: number;
  /** The key a peer address is counted under; undefined = never capped (a trusted proxy). */
  readonly keyOf: (remoteAddress: string | undefined) => string | undefined;
  /** Told of each refused connection (after it is destroyed). */
  readonly onRefused: (key: string) => void;
  /** Told the new total after each change (a gauge). */
  readonly onChange?: (open: number) => void;
}

export interface ConnectionCap {
  readonly counts: ConnectionCounts;
  /** Takes this socket out of the count (an admitted media stream). Idempotent. */
  adopt(socket: Socket): void;
  /** Removes the listener; sockets still open are forgotten. Idempotent. */
  undo(): void;
}

export function capConnections(server: Server, opts: ConnectionCapOptions): ConnectionCap {
  const counts = new ConnectionCounts(opts.max);
  /** Counted sockets and their key; a socket leaves on close or adoption. */
  const counted = new WeakMap<Socket, string>();

  function release(this: Socket): void {
    const key = counted.get(this);
    if (key === undefined) return;
    counted.delete(this);
    counts.close(key);
    opts.onChange?.(counts.total);
  }

  const onConnection = (socket: Socket): void => {
    const key = opts.keyOf(socket.remoteAddress);
    if (key === undefined) return;
    if (!counts.tryOpen(key)) {
      socket.destroy();
      opts.onRefused(key);
      return;
    }
    counted.set(socket, key);
    socket.once('close', release);
    opts.onChange?.(counts.total);
  };
  server.on('connection', onConnection);

  let undone = false;
  return {
    counts,
    adopt(socket) {
      release.call(socket);
      socket.removeListener('close', release);
    },
    undo() {
      if (undone) return;
      undone = true;
      server.removeListener('connection', onConnection);
    },
  };
}

/**
 * The guard's cap on `app.server`: keyed like every guard decision (clientKey), trusted proxies
 * exempt, refusals counted as rejections{connection_cap} and logged once per address per minute
 * (the refusals are the client's to multiply), the open count in http_connections. Removed when
 * the app closes.
 */
export function guardConnections(
  app: FastifyInstance,
  opts: {
    readonly trustProxy: readonly string[] | false;
    readonly max: number;
    readonly metrics: Pick<Metrics, 'httpConnections'>;
    readonly verdicts: Pick<Verdicts, 'count' | 'hashIp'>;
    readonly clock: () => number;
  },
): ConnectionCap {
  const trusted = trustedPeers(opts.trustProxy);
  const lines = new LogThrottle();
  const cap = capConnections(app.server, {
    max: opts.max,
    keyOf: (address) => (address === undefined || trusted(address) ? undefined : clientKey(address)),
    onChange: (open) => opts.metrics.httpConnections.set(open),
    onRefused: (ip) => {
      opts.verdicts.count('connection_cap');
      const suppressed = lines.take(ip, Math.floor(opts.clock()));
      if (suppressed === undefined) return;
      app.log.warn(
        { ipHash: opts.verdicts.hashIp(ip), limit: opts.max, suppressed },
        'connection cap reached: new connections from this address are closed',
      );
    },
  });
  app.addHook('onClose', (_instance, done) => {
    cap.undo();
    done();
  });
  return cap;
}
