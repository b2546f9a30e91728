/**
 * `npm run bench -- [options]` (see --help, bench/args.ts): runs the benchmarks on loopback,
 * prints the headline table, and — only when asked — writes the figures: `--write` merges them
 * into the committed bench/results.json and rewrites BENCHMARKS.md and its charts in bench/plots/
 * (sections not re-run are kept and marked as carried from their run), `--out DIR` writes this
 * run's results.json, BENCHMARKS.md and DIR/plots/ to DIR. Each benchmark is bounded in time and
 * traffic; the whole run takes 10–15 minutes on 2 cores, under 2 with --quick. Where a target is missed, a CPU profile of the
 * bridge under that load says where the time goes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from '../tools/sim/format.js';
import { machine, load1, waitForQuiet } from './machine.js';
import { placeProcesses } from './harness.js';
import { headlines, machineLabel, withMachineStamped, type BenchName, type Results, type RunInfo } from './targets.js';
import { renderMarkdown } from './report.js';
import { charts, type ChartLinks } from './plots.js';
import { generatorCount, HELP, parseBenchArgs } from './args.js';
import { ProgressLine } from './progress.js';
import { runMessageRate } from './message-rate.js';
import { runCapacity } from './capacity.js';
import { runLatency } from './latency.js';
import { redisAvailable, runFloodBench, runFloodFloor, type FloodBenchResult, type FloorResult } from './flood.js';
import { runSoak } from './soak.js';
import { profileUnderFlood, profileUnderLoad } from './profile-run.js';

/** Repository root: this file runs from dist/dev/bench/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS_JSON = `${ROOT}bench/results.json`;
const BENCHMARKS_MD = `${ROOT}BENCHMARKS.md`;
const NOTES_MD = `${ROOT}bench/NOTES.md`;
/**
 * The committed report's charts: generated with the figures they draw (bench/results.json), not
 * hand-written docs (docs/), and kept out of the repository root; BENCHMARKS.md links them by this
 * relative path. A report written with --out keeps its charts in DIR/plots/ the same way.
 */
const PLOTS_DIR = 'bench/plots';

/** Results as stored (machine and all): the committed ones are what --write merges into and --report-only renders. */
function loadStored(path = RESULTS_JSON): Results | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Results;
  } catch {
    return null;
  }
}

/**
 * Writes BENCHMARKS.md to `mdPath` — the generated figures, then (for the committed file) the
 * hand-written reading of them (bench/NOTES.md) — and its charts into `plotsDir` (relative to the
 * report's folder), which it embeds. Returns the files written.
 */
function writeReport(results: Results, mdPath: string, plotsDir: string, withNotes: boolean): string[] {
  const links: ChartLinks = { dir: plotsDir, charts: charts(results) };
  const folder = join(dirname(mdPath), plotsDir);
  if (links.charts.length > 0) mkdirSync(folder, { recursive: true });
  const written = links.charts.map((c) => {
    writeFileSync(join(folder, c.file), c.svg);
    return join(folder, c.file);
  });
  const notes = withNotes && existsSync(NOTES_MD) ? `\n${readFileSync(NOTES_MD, 'utf8')}` : '';
  writeFileSync(mdPath, renderMarkdown(results, links) + notes);
  return [mdPath, ...written];
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args === 'help') {
      console.log(HELP);
      return 0;
    }
    console.error(`bench: ${args}\n(npm run bench -- --help lists the options)`);
    return 2;
  }
  if (args.reportOnly) {
    // The committed report, or with --out DIR the report of the run stored in DIR.
    const dir = args.out === null ? null : resolve(args.out);
    const source = dir === null ? RESULTS_JSON : join(dir, 'results.json');
    const stored = loadStored(source);
    if (stored === null) {
      console.error(`bench: ${source} is missing or unreadable`);
      return 1;
    }
    const written = dir === null ? writeReport(stored, BENCHMARKS_MD, PLOTS_DIR, true) : writeReport(stored, join(dir, 'BENCHMARKS.md'), 'plots', false);
    console.log(`wrote ${written.join(', ')} from ${source}`);
    return 0;
  }
  const q = args.quick;
  const log = (line: string): void => console.log(line);
  const progress = new ProgressLine();
  const placement = placeProcesses();
  const here = machine();
  const generators = generatorCount(args.generators, here.cores);
  const runId = `${new Date().toISOString()}-${randomBytes(3).toString('hex')}`;
  // --write merges into the committed results (what is not re-run is carried, and marked so);
  // otherwise the report holds this run only.
  const stored = args.write ? loadStored() : null;
  const results: Results = { ...(stored === null ? {} : withMachineStamped(stored)), machine: here, placement: placement.note, runId };
  if (generators > 1) results.placement += `; capacity load spread over ${generators} generator processes (CPUs ${placement.generatorCpus.join(', ') || 'not pinned'})`;
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  let failed = false;
  log(`machine: ${machineLabel(here)}; ${results.placement}`);
  if (!args.write && args.out === null) log('(nothing will be written: --write updates BENCHMARKS.md and bench/results.json, --out DIR writes this run\'s report to DIR)');

  const step = async <T>(name: BenchName, run: () => Promise<T>, store: (info: RunInfo, result?: T) => void): Promise<T | undefined> => {
    log(`\n== ${name}`);
    progress.set(`${name}: waiting for the machine to settle`);
    // Other work on a shared machine skews lag and latency: give it up to a minute to settle.
    const busy = args.settleS === 0 ? 0 : await waitForQuiet((args.settleS ?? (q ? 3 : 60)) * 1000);
    if (busy > 0.15) log(`  note: the machine is busy (a CPU at ${Math.round(busy * 100)} % before starting); figures may suffer`);
    progress.set(`${name}: running`);
    const startedAt = new Date().toISOString();
    const before = load1();
    const t0 = performance.now();
    const info = (): RunInfo => ({
      startedAt,
      durationS: (performance.now() - t0) / 1000,
      command,
      quick: q,
      load1Before: before,
      load1After: load1(),
      busyBefore: Math.round(busy * 100),
      runId,
      machine: machineLabel(here),
    });
    try {
      const result = await run();
      store(info(), result);
      return result;
    } catch (err) {
      failed = true;
      const error = err instanceof Error ? err.message : String(err);
      log(`  failed: ${error}`);
      store({ ...info(), error });
      return undefined;
    }
  };

  for (const name of args.only) {
    switch (name) {
      case 'message-rate':
        await step(name, () => runMessageRate({ calls: 10 * (q ? 1 : 2), seconds: q ? 10 : 25, log }), (info, result) => (results[name] = { ...info, result }));
        break;
      case 'capacity': {
        const ladder = q ? [100, 200] : [50, 100, 150, 200, 300, 400, 500, 600, 700, 1000, 1300, 1600];
        const baselines = args.baselines ?? args.calls ?? (q ? [100, 200] : generators > 1 ? [300, 600, 1000] : [300, 600]);
        await step(
          name,
          () =>
            runCapacity({
              steps: args.calls ?? ladder,
              baselineSteps: baselines,
              windowS: args.windowS ?? (q ? 4 : 10),
              rampPerSecond: generators > 1 ? 200 : 100,
              generators,
              generatorCpus: placement.generatorCpus,
              log,
              progress: (what) => progress.set(what),
            }),
          (info, result) => (results[name] = { ...info, result }),
        );
        break;
      }
      case 'latency': {
        // 500 calls is the issue's load; when one core carries fewer, also measure at half of what it carries.
        const carried = results.capacity?.result?.maxCalls ?? 0;
        const loads = args.latencyCalls ?? (q ? [100] : carried > 0 && carried < 1000 ? [500, Math.max(50, Math.floor(carried / 2))] : [500]);
        await step(
          name,
          async () => {
            const out = [];
            for (const calls of loads) {
              progress.set(`latency: ${calls} calls`);
              out.push(await runLatency({ calls, windowS: args.windowS ?? (q ? 5 : 20), rampPerSecond: 100, log }));
            }
            return out;
          },
          (info, result) => (results[name] = { ...info, result }),
        );
        break;
      }
      case 'flood': {
        const skipped: string[] = [];
        let floor: FloorResult | undefined;
        await step(
          name,
          async () => {
            const out: FloodBenchResult[] = [];
            const opts = { calls: q ? 50 : 100, seconds: q ? 3 : 10, ips: 200, concurrency: 256, log };
            progress.set('flood: the bare node:http floor');
            floor = await runFloodFloor({ seconds: q ? 3 : 5, ips: opts.ips, concurrency: opts.concurrency });
            log(`  floor (bare node:http answering a prebuilt 403): ${Math.round(floor.answeredPerS)}/s, ${floor.cpuUsPerRefusal.toFixed(1)} µs per refusal`);
            progress.set('flood: the bridge, in-memory guard');
            const memory = await runFloodBench({ ...opts, store: 'memory' });
            out.push(memory);
            if (!memory.guardInstalled) skipped.push('Redis store: not run — the guard is not installed in the app yet (every refusal was the interim 401); the code is ready (REDIS_URL=redis://127.0.0.1:6379).');
            else if (!(await redisAvailable())) skipped.push('Redis store: not run — no Redis answering at 127.0.0.1:6379.');
            else {
              progress.set('flood: the bridge, Redis guard');
              out.push(await runFloodBench({ ...opts, store: 'redis' }));
            }
            return out;
          },
          (info, result) => (results[name] = { ...info, result, skipped, floor }),
        );
        for (const s of skipped) log(`  ${s}`);
        break;
      }
      case 'soak':
        await step(name, () => runSoak({ calls: q ? 1000 : 10_000, lanes: 20, log }), (info, result) => (results[name] = { ...info, result }));
        break;
      case 'first-audio': {
        const module = `${ROOT}dist/dev/bench/first-audio.js`;
        if (!existsSync(module)) {
          log('\n== first-audio: bench/first-audio.ts not built; skipped');
          break;
        }
        const { runFirstAudioBench } = (await import(module)) as typeof import('./first-audio.js');
        await step(name, () => runFirstAudioBench({ calls: q ? 10 : 30 }), (info, result) => (results[name] = { ...info, result }));
        break;
      }
    }
  }

  // Profile only what this run measured and missed.
  const missed = headlines(results).filter((h) => h.met === false && h.source?.runId === runId);
  if (args.profile && missed.length > 0) {
    log('\n== profiles (targets missed: where does the time go?)');
    progress.set('profiles: where the time goes');
    const profiles: NonNullable<Results['profiles']> = { capturedAt: new Date().toISOString() };
    if (missed.some((h) => !h.benchmark.startsWith('4 flood'))) {
      const calls = Math.min(200, Math.max(50, results.capacity?.result?.maxCalls ?? 100));
      profiles.streaming = await profileUnderLoad({ calls, seconds: q ? 5 : 10 });
      log(`  streaming (${calls} calls): ${profiles.streaming.components.slice(0, 5).map((c) => `${c.name} ${c.pct.toFixed(0)} %`).join(', ')}`);
    }
    if (missed.some((h) => h.benchmark.startsWith('4 flood'))) {
      profiles.flood = await profileUnderFlood({ seconds: 5, ips: 200, concurrency: 256 });
      log(`  flood: ${profiles.flood.components.slice(0, 5).map((c) => `${c.name} ${c.pct.toFixed(0)} %`).join(', ')}`);
    }
    results.profiles = profiles;
  }
  progress.stop();

  log('');
  const rows = headlines(results).map((h) => [h.benchmark, h.figure, h.value, h.target, h.met === null ? '—' : h.met ? 'yes' : 'NO', h.source?.runId === runId ? '' : 'carried']);
  for (const line of table(['benchmark', 'figure', 'measured', 'target', 'met', ''], rows, [0, 1, 2, 3, 4, 5])) log(line);
  if (args.out !== null) {
    const dir = resolve(args.out);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    const written = writeReport(results, join(dir, 'BENCHMARKS.md'), 'plots', false);
    log(`\nwrote ${join(dir, 'results.json')}, ${written.join(', ')}`);
  }
  if (args.write) {
    writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 2) + '\n');
    const written = writeReport(results, BENCHMARKS_MD, PLOTS_DIR, true);
    log(`\nwrote ${RESULTS_JSON}, ${written.join(', ')}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
