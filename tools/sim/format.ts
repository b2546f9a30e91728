/**
 * Text output of the simulator: the progress line and the report tables.
 */
import type { Progress, SimulationReport } from './simulation.js';

/** Rows of the per-call table printed before "… and N more" (all are in --json). */
const MAX_CALL_ROWS = 25;

export function progressLine(p: Progress): string {
  return (
    `${p.elapsedS.toFixed(0).padStart(4)} s  calls ${p.started} started, ${p.live} live, ${p.done} done, ${p.failed} failed` +
    `  frames sent ${p.framesSent.toLocaleString('en-US')}, media received ${p.mediaReceived.toLocaleString('en-US')}` +
    (p.flooding ? '  [flooding]' : '')
  );
}

/**
 * One progress line: rewritten in place (\r) on a terminal, a plain line every `everyS` otherwise
 * (CI logs and pipes stay readable).
 */
export function progressPrinter(stream: NodeJS.WriteStream, everyS = 5): { update(p: Progress): void; done(): void } {
  let lastPlain = -Infinity;
  let width = 0;
  return {
    update(p) {
      const line = progressLine(p);
      if (stream.isTTY) {
        stream.write(`\r${line.padEnd(width)}`);
        width = line.length;
      } else if (p.elapsedS - lastPlain >= everyS) {
        stream.write(line + '\n');
        lastPlain = p.elapsedS;
      }
    },
    done() {
      if (stream.isTTY && width > 0) stream.write(`\r${' '.repeat(width)}\r`);
    },
  };
}

/** A plain-text table; columns in `leftAligned` (default: the first) are padded right, the rest (numbers) left. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], leftAligned: readonly number[] = [0]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (leftAligned.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

const n0 = (v: number | null): string => (v === null || Number.isNaN(v) ? '-' : Math.round(v).toLocaleString('en-US'));
const n1 = (v: number | null): string => (v === null || Number.isNaN(v) ? '-' : v.toFixed(1));

export function formatReport(report: SimulationReport): string[] {
  const out: string[] = [];
  const rows = report.calls.slice(0, MAX_CALL_ROWS).map((c) => [
    String(c.index + 1),
    `${c.callSid.slice(0, 10)}…`,
    c.outcome,
    n1(c.durationS),
    n1(c.sentPerS),
    n1(c.receivedPerS),
    n0(c.mediaReceived),
    n0(c.marksReceived),
    n0(c.clears),
    n0(c.webhookMs),
    n0(c.firstAudioMs),
    n0(c.maxMediaGapMs),
  ]);
  out.push('calls (msg/s = messages per second of call, each way; first audio = start → first media; gap = worst media gap within an answer):');
  out.push(
    ...table(['#', 'CallSid', 'outcome', 'dur s', 'sent/s', 'recv/s', 'media', 'marks', 'clears', 'webhook ms', 'first audio ms', 'gap ms'], rows).map((l) => '  ' + l),
  );
  if (report.calls.length > MAX_CALL_ROWS) out.push(`  … and ${report.calls.length - MAX_CALL_ROWS} more (--json lists all)`);
  const errors = report.calls.filter((c) => c.error !== null);
  for (const c of errors.slice(0, 10)) out.push(`  call ${c.index + 1}: ${c.error}`);
  if (errors.length > 10) out.push(`  … ${errors.length - 10} more errors`);

  const t = report.totals;
  out.push('');
  out.push('totals:');
  out.push(`  calls             ${t.completed} completed, ${t.failed} failed, in ${n1(t.wallS)} s`);
  out.push(`  caller → bridge   ${n1(t.sentPerCallPerS)} msg/s per call (media every 20 ms + mark echoes), ${(t.bytesSent / 1e6).toFixed(2)} MB of audio`);
  out.push(`  bridge → caller   ${n1(t.receivedPerCallPerS)} msg/s per call (media + marks + clears), ${n1(t.mediaPerCallPerS)} media/s, ${(t.bytesReceived / 1e6).toFixed(2)} MB of audio`);
  if (report.standIn) {
    const s = report.standIn;
    out.push(
      `  bridge → Realtime  ${n1(s.appendsPerCallPerS)} appends per second of call; ${(s.appendedBytes / 1e6).toFixed(2)} MB appended; ` +
        `worst gap between appends ${n0(s.maxAppendGapMs)} ms`,
    );
    out.push(`  Realtime → bridge  ${n0(s.sent['response.output_audio.delta'] ?? 0)} deltas, ${s.answers} answers (${s.cancelled} interrupted)`);
  }
  out.push(`  first audio       p50 ${n0(t.firstAudioMsP50)} ms (includes the caller's first utterance and the model's turn detection)`);
  out.push(
    report.bridgeDrops
      ? `  drops (bridge)    ${report.bridgeDrops.toUpstream} frames to Realtime, ${report.bridgeDrops.toTwilio} to Twilio (from /metrics)`
      : '  drops (bridge)    n/a (/metrics not reachable: pass --metrics-token if METRICS_TOKEN is set)',
  );
  if (report.flood) {
    const f = report.flood;
    const statuses = Object.entries(f.byStatus)
      .sort()
      .map(([s, k]) => `${s}×${k.toLocaleString('en-US')}`)
      .join(' ');
    const errs = Object.entries(f.errors)
      .map(([e, k]) => `${e}×${k}`)
      .join(' ');
    out.push('');
    out.push('flood:');
    out.push(`  attempts          ${f.attempts.toLocaleString('en-US')} in ${n1(f.durationMs / 1000)} s: ${statuses || 'no answers'}${errs ? `; no answer: ${errs}` : ''}`);
    out.push(`  refused           ${n0(f.refusedPerSecond)} per second (slowest answer ${n0(f.maxAnswerMs)} ms)`);
    if (f.byStatus['101']) out.push(`  WARNING           ${f.byStatus['101']} anonymous upgrades were accepted (101)`);
    out.push(
      `  live calls        worst gap during the flood: ${f.maxAppendGapMs === null ? '' : `${n0(f.maxAppendGapMs)} ms between appends, `}` +
        (f.maxMediaGapMs > 0 ? `${n0(f.maxMediaGapMs)} ms between media` : 'no answer was playing (media gap n/a)'),
    );
  }
  return out;
}
