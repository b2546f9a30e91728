/**
 * `npm run bench` options, parsed without side effects (test/sim/bench-args.test.ts), and the
 * `--help` text that explains each benchmark and flag.
 */
import { BENCHMARKS, type BenchName } from './targets.js';

export interface BenchArgs {
  readonly only: BenchName[];
  readonly quick: boolean;
  /** Rewrite the committed bench/results.json and BENCHMARKS.md (merging, earlier sections marked carried). */
  readonly write: boolean;
  /** Also write results.json, BENCHMARKS.md and plots/*.svg of this run (only) into this folder. */
  readonly out: string | null;
  readonly profile: boolean;
  /** Only re-render BENCHMARKS.md and its charts from bench/results.json (after editing bench/NOTES.md), or with --out DIR from DIR/results.json. */
  readonly reportOnly: boolean;
  /** Capacity: call counts the bridge steps through (null: the default ladder). */
  readonly calls: number[] | null;
  /** Capacity: call counts the baselines (and the bridge) are measured at (null: default; [] none). */
  readonly baselines: number[] | null;
  /** Latency: call counts (null: default). */
  readonly latencyCalls: number[] | null;
  /** Measurement window per step, s (null: default). */
  readonly windowS: number | null;
  /** Load-generator processes for capacity ('auto': one per CPU after the bridge's when > 2 CPUs, else 1). */
  readonly generators: number | 'auto';
  /** Longest wait for a quiet machine before each benchmark, s (null: 60, 3 with --quick). */
  readonly settleS: number | null;
}

/** Which benchmarks run when --only is not given: --quick leaves the long ones out. */
export const QUICK_DEFAULT: readonly BenchName[] = ['message-rate', 'capacity', 'latency'];

export const HELP = `usage: npm run bench -- [options]

Runs benchmarks of the bridge on loopback: the bridge in its own process pinned to CPU 0 (taskset),
simulated Twilio callers and a stand-in for the Realtime API pinned to the other CPUs. Prints the
figures against the targets. Writes nothing unless --write or --out is given.

Benchmarks (all by default; with --quick: message-rate, capacity, latency):
  message-rate  messages the bridge sends per second of audio, each way (target ≤ 10.5/s)
  capacity      concurrent calls one core carries (no drops, lag p99 ≤ 50 ms), stepping N up;
                then the two baselines carry the same load at the baseline counts, and the
                bridge's CPU per call is reported as a ratio to each, from the same run:
                  floor  bench/relay-floor.ts: a bare ws relay, prebuilt messages, no parsing
                  naive  bench/relay-naive.ts: JSON.parse everything, one append per 20 ms
                         media, one media + mark per model delta (the public sample's style)
                with more than 2 CPUs the callers and stand-ins are spread over several
                generator processes (one per CPU 1…n−1), so 1,000+ calls can be generated
  latency       added latency p50/p99 through the bridge at 500 calls (frame → append,
                model delta → media, speech_started → clear), with the bridge's and the
                generator's event-loop lag (callers and stand-in in one process, one clock)
  flood         anonymous upgrade refusals per second on one core while calls stream,
                beside a bare node:http floor (and with Redis when it answers on :6379)
  soak          10,000 short calls in a row; heap, handles and sockets before and after
  first-audio   start → first media with and without the pre-warmed upstream

Options:
  --only LIST          comma list of the benchmarks above
  --quick              short windows and small loads (under 2 minutes; no flood or soak
                       unless named with --only; no profiles unless --profile)
  --write              update the committed bench/results.json, BENCHMARKS.md and its charts
                       (bench/plots/*.svg): this run's sections replace the stored ones, the
                       others are kept and marked as carried from their run (date, machine)
  --out DIR            write this run's results.json, BENCHMARKS.md and charts (DIR/plots/)
                       (this run only) to DIR
  --calls LIST         capacity: the call counts the bridge steps through (e.g. 300,600,1000)
  --baselines LIST     capacity: the counts the floor and naive relays are measured at
                       (default 300,600, plus 1000 when the load is spread; "none" to skip)
  --latency-calls LIST latency: the call counts (default 500)
  --window S           measurement window per step, seconds
  --settle S           wait at most S seconds for the other CPUs to go quiet before each
                       benchmark (default 60, 3 with --quick)
  --generators K|auto  capacity load-generator processes (default auto: CPUs − 1 when there
                       are more than 2, else 1 = in this process)
  --profile            CPU-profile the bridge where a target is missed (default on, off with --quick)
  --no-profile         never profile
  --report-only        only re-render BENCHMARKS.md and its charts from bench/results.json
                       (with --out DIR: DIR/BENCHMARKS.md and DIR/plots/ from DIR/results.json)
  --no-write           accepted for compatibility (writing is off by default)
  -h, --help           this text

Environment for A/B runs of every server the bench starts (the bridge and both baselines):
  BENCH_NODE_ARGS      node flags, space-separated (e.g. "--max-semi-space-size=64")
  WS_NO_BUFFER_UTIL=1  ws masks frames in JavaScript instead of with bufferutil

A progress line goes to stderr while it runs. Examples:
  npm run bench -- --quick
  npm run bench -- --only capacity --calls 300,600 --write
  npm run bench -- --only capacity,latency --calls 300,600,1000 --latency-calls 500 --out /tmp/bench
On a many-core machine without registry access: bash bench/pack-for-device.sh here (packs Node,
dist/dev and node_modules into .device/), then OUT=DIR bash bench/device-run.sh there.`;

function counts(flag: string, value: string | undefined, allowNone: boolean): number[] | string {
  if (value === undefined) return `${flag} needs a value`;
  if (allowNone && value === 'none') return [];
  const list = value.split(',').filter(Boolean).map(Number);
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) return `${flag} takes a comma list of whole numbers ≥ 1 (got "${value}")`;
  return list;
}

/** Parses the options; a string is an error message, or 'help'. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs | string {
  let only: BenchName[] | null = null;
  let quick = false;
  let write = false;
  let out: string | null = null;
  let profile: boolean | null = null;
  let reportOnly = false;
  let calls: number[] | null = null;
  let baselines: number[] | null = null;
  let latencyCalls: number[] | null = null;
  let windowS: number | null = null;
  let generators: number | 'auto' = 'auto';
  let settleS: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string | undefined => (eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i]);
    switch (name) {
      case '--quick':
        quick = true;
        break;
      case '--write':
        write = true;
        break;
      case '--no-write':
        write = false;
        break;
      case '--profile':
        profile = true;
        break;
      case '--no-profile':
        profile = false;
        break;
      case '--report-only':
        reportOnly = true;
        break;
      case '--out': {
        const v = value();
        if (!v) return '--out needs a folder';
        out = v;
        break;
      }
      case '--only': {
        const list = value() ?? '';
        const names = list.split(',').filter(Boolean);
        const bad = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
        if (names.length === 0 || bad.length > 0) return `--only takes a comma list of ${BENCHMARKS.join(', ')} (got "${list}")`;
        only = names as BenchName[];
        break;
      }
      case '--calls':
      case '--baselines':
      case '--latency-calls': {
        const parsed = counts(name, value(), name === '--baselines');
        if (typeof parsed === 'string') return parsed;
        if (name === '--calls') calls = parsed;
        else if (name === '--baselines') baselines = parsed;
        else latencyCalls = parsed;
        break;
      }
      case '--window': {
        const v = Number(value());
        if (!(v > 0 && v <= 600)) return '--window takes seconds, 1–600';
        windowS = v;
        break;
      }
      case '--settle': {
        const v = Number(value());
        if (!(v >= 0 && v <= 600)) return '--settle takes seconds, 0–600';
        settleS = v;
        break;
      }
      case '--generators': {
        const v = value();
        if (v === 'auto') generators = 'auto';
        else {
          const k = Number(v);
          if (!Number.isInteger(k) || k < 1 || k > 256) return `--generators takes a whole number 1–256 or "auto" (got "${v ?? ''}")`;
          generators = k;
        }
        break;
      }
      case '--help':
      case '-h':
        return 'help';
      default:
        return `unknown option ${arg}`;
    }
  }
  return {
    only: only ?? [...(quick ? QUICK_DEFAULT : BENCHMARKS)],
    quick,
    write,
    out,
    profile: profile ?? !quick,
    reportOnly,
    calls,
    baselines,
    latencyCalls,
    windowS,
    generators,
    settleS,
  };
}

/** How many generator processes `auto` means on `cores` CPUs: one per CPU after the bridge's, when there are more than 2. */
export function generatorCount(setting: number | 'auto', cores: number): number {
  if (setting !== 'auto') return setting;
  return cores > 2 ? cores - 1 : 1;
}
