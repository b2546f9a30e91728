/**
 * Runs a bridge as a child process with a generated, self-consistent environment: loopback
 * PUBLIC_URL, fresh secrets, and OPENAI_REALTIME_URL pointing at a local stand-in. Used by
 * `simulate --spawn-bridge` and by the benchmarks (which pin it to a core with taskset).
 *
 * The child runs in a scratch directory so a developer's `.env` (dotenv) cannot leak real keys
 * or settings into it; its environment is exactly what is passed here plus PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** dist/dev/src/server.js, compiled by `tsc -p tsconfig.tools.json` with the tools. */
export const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

export interface SpawnedBridge {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** http://127.0.0.1:PORT (also the PUBLIC_URL). */
  readonly baseUrl: string;
  readonly env: Readonly<Record<string, string>>;
  readonly authToken: string;
  /** What the child wrote to stderr/stdout (last 64 KiB each). */
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnBridgeOptions {
  /** The script to run. @default SERVER_ENTRY */
  readonly entry?: string;
  /** The Realtime URL the bridge dials (the stand-in's). */
  readonly realtimeUrl: string;
  /** Extra or overriding variables (MAX_CALLS, REDIS_URL, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags (--cpu-prof, --expose-gc, …). */
  readonly nodeArgs?: readonly string[];
  /** Pin to these CPUs with `taskset -c` (e.g. "0"). */
  readonly cpus?: string;
  /** @default 15000 */
  readonly readyTimeoutMs?: number;
  readonly cwd?: string;
}

const OUTPUT_LIMIT = 64 * 1024;

/** A free TCP port on 127.0.0.1 (closed again before returning: a small race, retried by callers). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Environment for a local bridge; every secret freshly generated. */
export function localBridgeEnv(port: number, realtimeUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    STREAM_SECRET: randomBytes(32).toString('base64url'),
    OPENAI_API_KEY: 'sk-local-stand-in-not-a-real-key',
    OPENAI_REALTIME_URL: realtimeUrl,
    TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
    LOG_LEVEL: 'warn',
  };
}

export async function spawnBridge(opts: SpawnBridgeOptions): Promise<SpawnedBridge> {
  const entry = opts.entry ?? SERVER_ENTRY;
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npx tsc -p tsconfig.tools.json" first`);
  const port = await freePort();
  const env: Record<string, string> = { ...localBridgeEnv(port, opts.realtimeUrl), ...opts.env, PORT: String(port) };
  const scratch = opts.cwd ?? mkdtempSync(join(tmpdir(), 'voice-bridge-sim-'));
  const nodeArgs = [...(opts.nodeArgs ?? []), entry];
  const [command, args] = opts.cpus !== undefined ? ['taskset', ['-c', opts.cpus, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(command as string, args as string[], {
    cwd: scratch,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (opts.cwd === undefined) rmSync(scratch, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const bridge: SpawnedBridge = {
    child,
    pid: child.pid ?? 0,
    port,
    baseUrl,
    env,
    authToken: env.TWILIO_AUTH_TOKEN ?? '',
    output: () => ({ stdout, stderr }),
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  try {
    await waitForHealth(baseUrl, opts.readyTimeoutMs ?? 15_000, () => child.exitCode !== null || child.signalCode !== null);
  } catch (err) {
    await bridge.stop(1000);
    const { stderr: e, stdout: o } = bridge.output();
    throw new Error(`${(err as Error).message}\n--- bridge stderr ---\n${e.slice(-2000)}\n--- bridge stdout ---\n${o.slice(-2000)}`, { cause: err });
  }
  return bridge;
}

/** Polls GET /healthz until 200 (the server logs nothing at LOG_LEVEL=warn, so ask it). */
async function waitForHealth(baseUrl: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('the bridge exited during start-up');
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the bridge did not answer ${baseUrl}/healthz within ${timeoutMs} ms`);
}
