/**
 * BENCHMARKS.md, written from the stored results: machine, command, headline figures against the
 * targets, each benchmark's table, and where the CPU time goes.
 */
import { headlines, isCarried, machineLabel, runLabel, sumHandles, type Results, type RunInfo } from './targets.js';
import type { CapacityStep, CpuRatio, ServerRun } from './capacity.js';
import type { ProfileSummary } from './profile.js';
import { chartEmbeds, type ChartLinks } from './plots.js';

type Row = readonly (string | number)[];

function mdTable(header: readonly string[], rows: readonly Row[]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');
const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');

function runLine(info: RunInfo | undefined, r: Results): string {
  if (!info) return r.runId !== undefined ? '_Not measured in this run._' : '_Not run yet._';
  const carried = isCarried(info, r)
    ? `**Carried from an earlier run, not measured in the latest one** (${runLabel(info, r).replace(/^carried: /, '')}). `
    : info.machine !== undefined && info.machine !== machineLabel(r.machine)
      ? `**Measured on another machine** (${info.machine}). `
      : '';
  const load = `load average ${info.load1Before} → ${info.load1After}${info.busyBefore !== undefined ? `, busiest CPU ${info.busyBefore} % busy with other work at the start` : ''}`;
  return `${carried}_Run ${info.startedAt.slice(0, 16).replace('T', ' ')} UTC with \`${info.command}\`${info.quick ? ' (quick mode)' : ''}, ${int(info.durationS)} s, ${load}._${
    info.error ? `\n\n**Failed:** ${info.error}` : ''
  }`;
}

function profileSection(title: string, p: ProfileSummary | undefined): string[] {
  if (!p) return [];
  return [
    `### ${title}`,
    '',
    `Busy ${int(p.busyMs)} ms of ${int(p.wallMs)} ms profiled (main thread; self time, % of busy).`,
    '',
    ...mdTable(
      ['component', '% of busy', 'ms'],
      p.components.slice(0, 10).map((c) => [c.name, f1(c.pct), int(c.ms)]),
    ),
    '',
    ...mdTable(
      ['function (self time)', '% of busy'],
      p.topFunctions.slice(0, 12).map((c) => [`\`${c.name}\``, f1(c.pct)]),
    ),
    '',
  ];
}

function baselineSection(bridgeSteps: readonly CapacityStep[], baselines: readonly ServerRun[] | undefined, ratios: readonly CpuRatio[], generators: number): string[] {
  if (!baselines || baselines.length === 0) return [];
  const out: string[] = ['### Against the baselines', ''];
  out.push(
    'The same load, placement and measurement, with two other servers in the bridge\'s place: the **floor** ' +
      '(bench/relay-floor.ts: a bare `ws` relay that recognises `start`/`stop` by a byte, sends a prebuilt 800-byte append per ' +
      '5 Twilio media and a prebuilt media per upstream message; no parsing, guard or bookkeeping) and a **naive 20 ms relay** ' +
      '(bench/relay-naive.ts, in the style of the public twilio-samples bridge: JSON.parse of every message, one append per ' +
      'Twilio media, one media + one mark per model delta). CPU is each process\'s own accounting. The ratio is the bridge\'s ' +
      'CPU per call over the baseline\'s at the same call count in the same run.' +
      (generators > 1
        ? ` The load was spread over ${generators} generator processes, so the servers, not the generator, set the limits.`
        : ' The load generator had one core here: where it saturated (its frames late, see "stopped because"), that server was ' +
          'not stepped further and the ratio there is missing or indicative.'),
    '',
  );
  const rows: (string | number)[][] = [];
  for (const [name, steps] of [['bridge', bridgeSteps], ...baselines.map((b) => [b.server === 'floor' ? 'floor' : 'naive relay', b.steps] as const)] as const) {
    for (const s of steps) {
      if (name === 'bridge' && !ratios.some((x) => x.calls === (s.target ?? s.calls))) continue;
      rows.push([name, s.calls, f1(s.cpuPct), s.cpuPctPerCall.toFixed(3), int(s.messagesPerS), f1(s.lagP99Ms), s.drops, f1(s.generatorLagP99Ms), s.stop ?? '']);
    }
  }
  out.push(...mdTable(['server', 'calls', 'CPU % of a core', 'CPU % per call', 'messages/s', 'lag p99 ms', 'drops', 'generator lag p99 ms', 'stopped because'], rows), '');
  const x = (v: number | null): string => (v === null ? '—' : `**${v.toFixed(2)}×**`);
  out.push(...mdTable(['calls', 'bridge ÷ floor', 'bridge ÷ naive relay', 'note'], ratios.map((q) => [int(q.calls), x(q.vsFloor), x(q.vsNaive), q.note])), '');
  for (const b of baselines) out.push(`- ${b.server === 'floor' ? 'Floor' : 'Naive relay'}: idle RSS ${f1(b.idle.rssMb)} MB; ${b.limitedBy}.`);
  out.push('');
  return out;
}

/** The report; `charts`: the charts written beside it (bench/plots.ts), embedded in their sections. */
export function renderMarkdown(r: Results, charts?: ChartLinks): string {
  const out: string[] = [];
  const m = r.machine;
  out.push('# Benchmarks', '');
  out.push(
    'Generated by `npm run bench` (bench/run.ts). Everything runs on loopback: the bridge as a separate process, a simulated ' +
      'Twilio (signed webhooks, TwiML, Media Streams at real-time pace, marks echoed as played) and a local stand-in for the ' +
      'Realtime API (server-VAD-like turns, answers streamed as 20 ms deltas). Re-run all and update this file (10–15 min on ' +
      '2 cores) with `npm run bench -- --write`, one with `npm run bench -- --only capacity --write`, a short pass (nothing ' +
      'written) with `npm run bench -- --quick`; `npm run bench -- --help` explains each benchmark and option. Each section ' +
      'says which run measured it: figures carried from an earlier run are marked with that run\'s date and machine.',
    '',
  );
  out.push('## Machine', '');
  out.push(r.runId !== undefined ? 'The latest run ran on:' : 'Measured on:', '');
  out.push(...mdTable(['CPU', 'cores', 'memory', 'Node', 'kernel'], [[m.cpuModel, m.cores, `${m.memoryGb} GB`, m.node, m.kernel]]), '');
  out.push(
    `Placement: ${r.placement}. CPU figures are the bridge process's own accounting (\`process.cpuUsage()\`, user + system, ` +
      'all threads), never the load generator\'s wall time. The load average is shown with each run: above ~2, other work was ' +
      'sharing the two cores and the lag figures suffer from it.',
    '',
  );

  out.push('## Headline figures', '');
  out.push(
    ...mdTable(
      ['benchmark', 'figure', 'measured', 'target', 'met', 'run'],
      headlines(r).map((h) => [h.benchmark, h.figure, h.value, h.target, h.met === null ? '—' : h.met ? 'yes' : '**no**', isCarried(h.source, r) ? `**${runLabel(h.source, r)}**` : runLabel(h.source, r)]),
    ),
    '',
  );
  if ((r.capacity?.result?.ratios ?? []).some((x) => x.note)) {
    out.push('¹ A server or the load generator missed the capacity criteria at that count (see section 2): the ratio is indicative.', '');
  }

  out.push('## 1. Message rate per call', '', runLine(r['message-rate'], r), '');
  const rate = r['message-rate']?.result;
  if (rate) {
    out.push(
      `${rate.calls} calls; callers stream 20 ms frames (50/s), the stand-in answers each turn with 6 s of speech in 20 ms deltas ` +
        '(50/s). Counted by the bridge\'s own counters per second of audio relayed in that direction; **marks and control ' +
        'messages are included** (session.update, truncate, mark, clear). Drops: ' +
        `${rate.drops}.`,
      '',
      ...mdTable(
        ['direction', 'bridge sends / s of audio', 'of which audio frames', 'other messages', 'bridge receives / s (a frame-by-frame relay would send this)'],
        [
          ['to the Realtime API', f2(rate.toRealtimePerS), f2(rate.appendsPerS), f2(rate.toRealtimePerS - rate.appendsPerS), `${f1(rate.fromTwilioPerS)} (Twilio media)`],
          ['to Twilio', f2(rate.toTwilioPerS), f2(rate.mediaPerS), `${f2(rate.marksPerS)} (marks)`, `${f1(rate.fromRealtimeDeltasPerS)} (deltas)`],
        ],
      ),
      '',
      `Cross-check at the receivers: the stand-in got ${int(rate.standInAppends)} appends for ${f1(rate.callerAudioS)} s of caller audio; ` +
        `the callers got ${int(rate.callerMedia)} media and ${int(rate.callerMarks)} marks for ${f1(rate.answerAudioS)} s of answers.`,
      '',
    );
  }

  out.push('## 2. Capacity on one core', '', runLine(r.capacity, r), '');
  const cap = r.capacity?.result;
  if (cap) {
    out.push(
      'Each call: the caller streams 20 ms frames without pause (Twilio sends silence too), the stand-in answers every caller ' +
        'turn (4.9 s of speech + 7 s of silence) with 6 s of speech in 20 ms deltas, so the model talks about half the time. ' +
        `N steps up until frames drop, the bridge's event-loop lag p99 passes 50 ms, or the load generator saturates. ` +
        `Window ${cap.windowS} s per step after 3 s of settling. Idle bridge: RSS ${f1(cap.idle.rssMb)} MB, heap ${f1(cap.idle.heapMb)} MB. ` +
        `Per-call memory is (step − idle) / N; heap after a full GC.`,
      '',
      ...mdTable(
        ['calls', 'CPU % of a core', 'CPU % per call', 'RSS MB', 'RSS kB/call', 'heap kB/call', 'lag p50 ms', 'lag p99 ms', 'messages/s', 'drops', 'generator lag p99 ms', 'stopped because'],
        cap.steps.map((s) => [
          s.calls,
          f1(s.cpuPct),
          s.cpuPctPerCall.toFixed(3),
          int(s.rssMb),
          int(s.rssKbPerCall),
          int(s.heapKbPerCall),
          f1(s.lagP50Ms),
          f1(s.lagP99Ms),
          int(s.messagesPerS),
          s.drops,
          f1(s.generatorLagP99Ms),
          s.stop ?? '',
        ]),
      ),
      '',
      `Largest N that met the criteria: **${int(cap.maxCalls)}**; limited by: ${cap.limitedBy}. ` +
        `Load generator: ${(cap.generators ?? 1) > 1 ? `${cap.generators ?? 1} processes, one per CPU after the bridge's, sharing the stand-in port` : 'one process (callers and stand-in together)'}.`,
      '',
    );
    out.push(...baselineSection(cap.steps, cap.baselines, cap.ratios ?? [], cap.generators ?? 1));
    out.push(...chartEmbeds(charts, 'capacity'));
  }

  out.push('## 3. Added latency', '', runLine(r.latency, r), '');
  const lats = r.latency?.result ?? [];
  if (lats.length > 0) {
    out.push(
      'Measured across the bridge on one clock (callers and stand-in share the load-generator process): every 20 ms piece of ' +
        'audio carries a sequence number in 8 near-silent bytes, so the piece that completed a frame is known on arrival. ' +
        'Caller frame → append is for the frame that completed a 100 ms window (the window itself is a wait by design: the ' +
        'first 20 ms of each frame waits ~80 ms). Callers talk over every answer (2 s pauses), so barge-ins are continuous. ' +
        'Figures include two loopback hops and the load generator\'s own scheduling (its lag is shown).',
      '',
      ...mdTable(
        ['calls', 'path', 'n', 'p50 ms', 'p99 ms', 'max ms', 'bridge CPU %', 'bridge lag p99 ms', 'generator lag p99 ms'],
        lats.flatMap((l) =>
          (
            [
              ['caller frame → append', l.callerToAppend],
              ['model delta → Twilio media', l.deltaToMedia],
              ['speech_started → clear', l.speechToClear],
            ] as const
          ).map(([name, s], i) => [i === 0 ? l.calls : '', name, int(s.count), f2(s.p50), f2(s.p99), f2(s.max), i === 0 ? f1(l.bridgeCpuPct) : '', i === 0 ? f1(l.bridgeLagP99Ms) : '', i === 0 ? f1(l.generatorLagP99Ms) : '']),
        ),
      ),
      '',
      ...chartEmbeds(charts, 'latency'),
    );
  }

  out.push('## 4. Flood', '', runLine(r.flood, r), '');
  const floods = r.flood?.result ?? [];
  for (const note of r.flood?.skipped ?? []) out.push(`- ${note}`);
  if ((r.flood?.skipped ?? []).length > 0) out.push('');
  if (floods.length > 0) {
    out.push(
      'Anonymous upgrade attempts (forged token in the path, no signature) from 200 source addresses 127.1.x.y over raw TCP, ' +
        '256 in flight, while live calls stream. CPU µs per refusal = (bridge CPU during the flood − the calls\' own CPU measured ' +
        'just before) / refusals; "projected" = 10⁶ / that: what one core does if refusing is all it does. The measured rate is ' +
        'bounded by the load generator (one core, a new TCP connection per attempt).',
      '',
      ...mdTable(
        ['store', 'attempts', 'answers', 'refused/s', 'bridge CPU % (calls alone)', 'µs/refusal', 'projected/s per core', 'lag p99 ms', 'worst gap appends / media ms', 'drops'],
        floods.map((f) => [
          f.store + (f.guardInstalled ? '' : ' ¹'),
          int(f.attempts),
          Object.entries(f.byStatus)
            .map(([s, n]) => `${s}×${int(n)}`)
            .join(' '),
          int(f.refusedPerS),
          `${f1(f.cpuPct)} (${f1(f.baselineCpuPct)})`,
          f1(f.cpuUsPerRefusal),
          int(f.projectedPerCoreS),
          f1(f.lagP99Ms),
          `${int(f.maxAppendGapMs)} / ${int(f.maxMediaGapMs)}`,
          f.drops,
        ]),
      ),
      '',
    );
    const floor = r.flood?.floor;
    if (floor) {
      out.push(
        `Floor, same flood and placement: a bare \`node:http\` server whose 'upgrade' handler writes a prebuilt 403 costs ` +
          `**${f1(floor.cpuUsPerRefusal)} µs** per refusal (${int(1e6 / Math.max(1, floor.cpuUsPerRefusal))}/s per core; the generator delivered ` +
          `${int(floor.answeredPerS)}/s to it). That is what TCP accept, parse, write and close cost Node and the kernel on this machine; ` +
          'the rest of the bridge\'s figure is its own work (routing, hooks, guard, logging, JSON).',
        '',
      );
    }
    if (floods.some((f) => !f.guardInstalled)) {
      out.push('¹ Every answer was 401: the pre-upgrade guard was not installed in the app yet, so this measures the app\'s interim token check.', '');
    }
    out.push(...chartEmbeds(charts, 'flood'));
  }

  out.push('## 5. Soak', '', runLine(r.soak, r), '');
  const soak = r.soak?.result;
  if (soak) {
    out.push(
      `${int(soak.calls)} short calls (signed webhook, upgrade, start, upstream opened, 100 ms of audio, stop) in ${soak.lanes} lanes, ` +
        `${int(soak.seconds)} s; ${soak.failed} failed${soak.failures.length ? ` (${soak.failures[0]})` : ''}. Snapshots after a full GC, ` +
        'once the closing handshakes are over. STREAM_TOKEN_TTL_SECONDS=10 here: the guard keeps each used token\'s mark for ' +
        'the token\'s life (single use), which with the default 300 s would be retention by design, not a leak.',
      '',
      ...mdTable(
        ['after calls', 'heap used MB', 'heap reserved MB', 'external MB', 'RSS MB', 'handles', 'sessions', 'live calls', 'upstream sockets open'],
        [soak.start, ...soak.trend].map((s) => [int(s.afterCalls), f2(s.heapMb), s.heapTotalMb === undefined ? '—' : f1(s.heapTotalMb), s.externalMb === undefined ? '—' : f1(s.externalMb), int(s.rssMb), `${sumHandles(s.handles)} (${Object.entries(s.handles).map(([k, n]) => `${k} ${n}`).join(', ')})`, s.sessions, s.liveCalls, s.upstreamOpen]),
      ),
      '',
    );
  }

  const fa = r['first-audio'];
  if (fa) {
    out.push('## First audio (bench/first-audio.ts)', '', runLine(fa, r), '');
    if (fa.result) {
      out.push(
        `From \`start\` to the first media frame, greeting set, 300 ms modelled Realtime handshake, ${fa.result.calls} calls per mode.`,
        '',
        ...mdTable(['mode', 'p50 ms', 'p95 ms'], [
          ['without pre-warm', f1(fa.result.withoutPrewarmMs.p50), f1(fa.result.withoutPrewarmMs.p95)],
          ['with pre-warm', f1(fa.result.withPrewarmMs.p50), f1(fa.result.withPrewarmMs.p95)],
        ]),
        '',
      );
    }
  }

  if (r.profiles) {
    out.push('## Where the time goes', '');
    out.push(
      `CPU profiles of the bridge (V8's sampling profiler, the one \`node --cpu-prof\` uses, started through the bridge's inspector for the ` +
        `measured window only; captured ${r.profiles.capturedAt.slice(0, 16).replace('T', ' ')} UTC, bridge not pinned so the sampler thread is not starved).`,
      '',
    );
    out.push(...profileSection(`Streaming calls (${r.profiles.streaming?.calls ?? '?'} calls)`, r.profiles.streaming));
    out.push(...profileSection('Refusing a flood of anonymous upgrades', r.profiles.flood));
  }
  return out.join('\n') + '\n';
}
