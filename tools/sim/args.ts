/**
 * `simulate` command-line options: parsed and checked all at once, every problem reported in one
 * message with the usage. Pure (no I/O); `checkTarget` does the one DNS look-up separately.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { MAX_FLOOD_IPS } from './flood.js';

export interface SimulateOptions {
  /** Where the bridge is reached; null with --spawn-bridge (the simulator starts one). */
  readonly url: URL | null;
  readonly publicUrl: string | undefined;
  readonly authToken: string | undefined;
  readonly calls: number;
  readonly durationS: number;
  readonly concurrency: number;
  readonly rampPerSecond: number;
  readonly gapMs: number;
  readonly localRealtime: boolean;
  readonly realtimePort: number;
  readonly spawnBridge: boolean;
  readonly flood: { readonly ips: number; readonly seconds: number; readonly concurrency: number } | null;
  readonly metricsToken: string | undefined;
  readonly json: boolean;
}

export type ParseResult = { readonly ok: true; readonly options: SimulateOptions } | { readonly ok: false; readonly help: boolean; readonly errors: readonly string[] };

/** Bounds that keep a run finite and local. */
export const LIMITS = {
  calls: 5_000,
  durationS: 3_600,
  floodSeconds: 60,
  floodConcurrency: 1_024,
  rampPerSecond: 1_000,
  gapMs: 60_000,
} as const;

export const USAGE = `usage: npm run simulate -- [options]

Acts as Twilio against a running voice bridge: posts signed voice webhooks, follows the TwiML's
<Stream>, streams real µ-law speech at real-time pace in 20 ms frames, echoes marks, and reports
per-call and total figures. Targets must be this machine (loopback or one of its own addresses).

  --url URL              the bridge, e.g. http://127.0.0.1:3000 (required unless --spawn-bridge)
  --public-url URL       the bridge's PUBLIC_URL, which webhooks are signed for (default: --url)
  --auth-token TOKEN     the bridge's TWILIO_AUTH_TOKEN (default: $TWILIO_AUTH_TOKEN; unsigned if neither)
  --calls N              calls to place (default 1, at most ${LIMITS.calls}; 0 with --flood floods only)
  --duration S           seconds of caller audio per call before hanging up (default 10, at most ${LIMITS.durationS})
  --concurrency C        calls live at once (default: all of them)
  --ramp R               calls started per second (default 50)
  --gap MS               silence after each caller utterance: 7000 lets the answer finish, less interrupts it (default 7000)
  --local-realtime       host the Realtime stand-in here, on --realtime-port (default 8765); the bridge must have been
                         started with OPENAI_REALTIME_URL=ws://127.0.0.1:<port>/v1/realtime
                         (without it, a bridge with a real OPENAI_API_KEY opens real, billed Realtime sessions)
  --spawn-bridge         start a bridge (the compiled server) wired to an in-process Realtime stand-in: fully self-contained
  --flood                also flood the stream route with anonymous upgrade attempts while the calls stream (loopback only)
  --flood-ips N          distinct source addresses 127.1.x.y (default 200, at most ${MAX_FLOOD_IPS})
  --flood-seconds S      flood duration (default 5, at most ${LIMITS.floodSeconds})
  --flood-concurrency N  attempts in flight (default 128)
  --metrics-token TOKEN  METRICS_TOKEN, to read the bridge's drop counters from /metrics
  --json                 print the report as JSON
  --help                 this text

examples:
  npm run simulate -- --spawn-bridge --calls 20 --duration 15
  npm run simulate -- --url http://127.0.0.1:3000 --auth-token "$TWILIO_AUTH_TOKEN" --calls 5 --local-realtime
  npm run simulate -- --spawn-bridge --calls 50 --duration 20 --flood --flood-ips 200 --flood-seconds 5`;

const FLAGS = new Set(['--local-realtime', '--spawn-bridge', '--flood', '--json', '--help', '-h']);
const VALUED = new Set([
  '--url',
  '--public-url',
  '--auth-token',
  '--calls',
  '--duration',
  '--concurrency',
  '--ramp',
  '--gap',
  '--realtime-port',
  '--flood-ips',
  '--flood-seconds',
  '--flood-concurrency',
  '--metrics-token',
]);

export function parseSimulateArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParseResult {
  const errors: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (FLAGS.has(name)) {
      flags.add(name === '-h' ? '--help' : name);
      continue;
    }
    if (!VALUED.has(name)) {
      errors.push(arg.startsWith('-') ? `unknown option ${name}` : `unexpected argument "${arg}"`);
      continue;
    }
    const value = eq > 0 && name !== arg ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (value.startsWith('--') && eq < 0)) {
      errors.push(`${name} needs a value`);
      if (value !== undefined) i--;
      continue;
    }
    values.set(name, value);
  }
  if (flags.has('--help')) return { ok: false, help: true, errors: [] };

  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      errors.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return def;
    }
    return Number(raw);
  };
  const httpUrl = (name: string): URL | null => {
    const raw = values.get(name);
    if (raw === undefined) return null;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      errors.push(`${name} must be an absolute URL such as http://127.0.0.1:3000 (got "${raw}")`);
      return null;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      errors.push(`${name} must be an http:// or https:// URL, the bridge's web address (got "${url.protocol}//")`);
      return null;
    }
    return url;
  };

  const spawnBridge = flags.has('--spawn-bridge');
  const url = httpUrl('--url');
  const publicUrl = httpUrl('--public-url');
  if (spawnBridge && values.has('--url')) errors.push('--spawn-bridge starts its own bridge: leave out --url');
  if (!spawnBridge && !values.has('--url')) errors.push('--url is required (or use --spawn-bridge for a self-contained run)');
  const flood = flags.has('--flood');
  const calls = int('--calls', 1, flood ? 0 : 1, LIMITS.calls);
  const concurrency = int('--concurrency', Math.max(calls, 1), 1, LIMITS.calls);
  for (const name of ['--flood-ips', '--flood-seconds', '--flood-concurrency']) {
    if (!flood && values.has(name)) errors.push(`${name} needs --flood`);
  }
  if (values.has('--realtime-port') && !flags.has('--local-realtime')) errors.push('--realtime-port needs --local-realtime');
  const options: SimulateOptions = {
    url: spawnBridge ? null : url,
    publicUrl: publicUrl?.origin,
    authToken: values.get('--auth-token') ?? env['TWILIO_AUTH_TOKEN'],
    calls,
    durationS: int('--duration', 10, 1, LIMITS.durationS),
    concurrency,
    rampPerSecond: int('--ramp', 50, 1, LIMITS.rampPerSecond),
    gapMs: int('--gap', 7000, 0, LIMITS.gapMs),
    localRealtime: flags.has('--local-realtime') || spawnBridge,
    realtimePort: int('--realtime-port', spawnBridge ? 0 : 8765, spawnBridge ? 0 : 1, 65535),
    spawnBridge,
    flood: flood
      ? {
          ips: int('--flood-ips', 200, 1, MAX_FLOOD_IPS),
          seconds: int('--flood-seconds', 5, 1, LIMITS.floodSeconds),
          concurrency: int('--flood-concurrency', 128, 1, LIMITS.floodConcurrency),
        }
      : null,
    metricsToken: values.get('--metrics-token'),
    json: flags.has('--json'),
  };
  if (flood && url !== null && !isLoopbackAddress(url.hostname) && url.hostname !== 'localhost') {
    errors.push(`--flood needs a loopback --url (127.x.y.z): its source addresses are 127.1.x.y (got ${url.hostname})`);
  }
  return errors.length > 0 ? { ok: false, help: false, errors } : { ok: true, options };
}

export function isLoopbackAddress(address: string): boolean {
  const plain = address.replace(/^\[|\]$/g, '');
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain) || plain === '::1' || plain === '::ffff:127.0.0.1';
}

/**
 * Refuses targets other than this machine: loopback, or an address of one of its interfaces
 * (an operator load-testing a deployment runs the simulator on that host). Returns a problem or null.
 */
export async function checkTarget(url: URL): Promise<string | null> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return `cannot resolve ${host}`;
  }
  const own = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
  const foreign = addresses.filter((a) => !isLoopbackAddress(a) && !own.has(a));
  if (foreign.length > 0) {
    return `${host} (${foreign.join(', ')}) is not this machine: the simulator only targets loopback or this host's own addresses`;
  }
  return null;
}
