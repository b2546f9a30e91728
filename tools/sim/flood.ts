/**
 * Flood mode: anonymous WebSocket upgrade attempts (a forged token in the path, no signature) from
 * many loopback source addresses (127.1.x.y, one "IP" each), counting the bridge's answers by HTTP
 * status. Raw TCP with a prebuilt request, so the load generator spends little per attempt.
 * Loopback only, bounded in time and in attempts.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface FloodOptions {
  /** http://127.x.y.z:port of the bridge (loopback only: the source addresses are 127.1.x.y). */
  readonly target: URL;
  /** Distinct source addresses. @default 200 */
  readonly ips?: number;
  /** How long to flood, seconds. */
  readonly seconds: number;
  /** Attempts in flight at once. @default 128 */
  readonly concurrency?: number;
  /** Hard cap on attempts. @default 5,000,000 */
  readonly maxAttempts?: number;
  /** Per-attempt deadline, ms. @default 5000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface FloodResult {
  attempts: number;
  /** Answers by HTTP status ("101" would be a failure of the guard). */
  byStatus: Record<string, number>;
  /** Attempts that got no HTTP answer, by error code. */
  errors: Record<string, number>;
  durationMs: number;
  /** Answered attempts (any status) per second. */
  answeredPerSecond: number;
  /** Refusals (4xx/5xx) per second. */
  refusedPerSecond: number;
  /** Worst time from connect to status line, ms. */
  maxAnswerMs: number;
}

export const MAX_FLOOD_IPS = 60_000;

/** The n-th source address (0-based): 127.1.0.1, 127.1.0.2, … skipping .0 and .255. */
export function floodSourceAddress(n: number): string {
  const perBlock = 254;
  const block = Math.floor(n / perBlock);
  return `127.${1 + Math.floor(block / 256)}.${block % 256}.${1 + (n % perBlock)}`;
}

/** A token-shaped path segment that is not a valid token (forged MAC): what a scanner would try. */
function forgedPath(): string {
  return `/twilio/stream/${randomBytes(60).toString('base64url')}`;
}

export async function runFlood(opts: FloodOptions): Promise<FloodResult> {
  if (!isLoopbackHost(opts.target.hostname)) throw new Error('flood mode needs a loopback target (127.x.y.z): its source addresses are loopback');
  const ips = Math.max(1, Math.min(opts.ips ?? 200, MAX_FLOOD_IPS));
  const concurrency = Math.max(1, opts.concurrency ?? 128);
  const maxAttempts = opts.maxAttempts ?? 5_000_000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  // 'localhost' may resolve to ::1, which a 127.x source address cannot reach.
  const host = opts.target.hostname === 'localhost' ? '127.0.0.1' : opts.target.hostname;
  const port = Number(opts.target.port || 80);
  // A handful of request variants, built once: anonymous, with a browser-ish and a tool-ish agent.
  const requests = Array.from({ length: 16 }, (_, i) =>
    Buffer.from(
      `GET ${forgedPath()} HTTP/1.1\r\nHost: ${opts.target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `User-Agent: ${i % 2 === 0 ? 'python-requests/2.32' : 'Mozilla/5.0'}\r\n\r\n`,
    ),
  );
  const result: FloodResult = { attempts: 0, byStatus: {}, errors: {}, durationMs: 0, answeredPerSecond: 0, refusedPerSecond: 0, maxAnswerMs: 0 };
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let next = 0;

  const attempt = (): Promise<void> =>
    new Promise((resolve) => {
      const n = next++;
      result.attempts += 1;
      const began = performance.now();
      let settled = false;
      const socket: Socket = connect({ host, port, localAddress: floodSourceAddress(n % ips) });
      const finish = (status: string | null, error?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (status !== null) {
          result.byStatus[status] = (result.byStatus[status] ?? 0) + 1;
          result.maxAnswerMs = Math.max(result.maxAnswerMs, performance.now() - began);
        } else {
          const code = error ?? 'unknown';
          result.errors[code] = (result.errors[code] ?? 0) + 1;
        }
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(() => finish(null, 'timeout'), timeoutMs);
      socket.setNoDelay(true);
      socket.once('connect', () => socket.write(requests[n % requests.length] as Buffer));
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (m) finish(m[1] as string);
        else if (head.length >= 64) finish(null, 'not_http');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? err.message));
      socket.once('close', () => finish(null, 'closed_without_answer'));
    });

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && result.attempts < maxAttempts && opts.signal?.aborted !== true) await attempt();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.durationMs = performance.now() - started;
  const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0);
  const refused = Object.entries(result.byStatus)
    .filter(([s]) => Number(s) >= 400)
    .reduce((a, [, n]) => a + n, 0);
  result.answeredPerSecond = answered / (result.durationMs / 1000);
  result.refusedPerSecond = refused / (result.durationMs / 1000);
  return result;
}

export function isLoopbackHost(hostname: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname === 'localhost';
}

/**
 * Runs the flood in a child process at lower priority (`nice`), pinned with `taskset` when `cpus`
 * is given: the flood takes what CPU the simulated calls leave, instead of delaying their frames.
 */
export async function runFloodInChild(opts: FloodOptions & { readonly cpus?: string; readonly niceness?: number }): Promise<FloodResult> {
  const worker = fileURLToPath(new URL('./flood-worker.js', import.meta.url));
  const { cpus, niceness, signal, ...flood } = opts;
  // From TypeScript sources (tests) there is no compiled worker: flood from this process instead.
  if (!existsSync(worker)) return runFlood(opts);
  const args = [process.execPath, worker, JSON.stringify({ ...flood, target: flood.target.href })];
  const pinned = cpus !== undefined ? ['taskset', '-c', cpus, ...args] : args;
  const command = ['nice', '-n', String(niceness ?? 10), ...pinned];
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const onAbort = (): void => void child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  signal?.removeEventListener('abort', onAbort);
  if (code !== 0) throw new Error(`flood worker exited ${code}: ${err.trim()}`);
  return JSON.parse(out) as FloodResult;
}
