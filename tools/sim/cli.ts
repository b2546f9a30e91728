/**
 * The `simulate` command: parse, check the target, set up what the options ask for (a stand-in, a
 * spawned bridge), run, print. Returns the exit code; the entry file only calls it.
 */
import { parseSimulateArgs, checkTarget, USAGE, type SimulateOptions } from './args.js';
import { startRealtimeStandIn, type RealtimeStandIn } from './realtime-stand-in.js';
import { spawnBridge, type SpawnedBridge } from './spawn-bridge.js';
import { runSimulation, type SimulationReport } from './simulation.js';
import { formatReport, progressPrinter } from './format.js';
import { postWebhook, WebhookError } from './twilio-webhook.js';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: NodeJS.WriteStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

export async function simulateCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseSimulateArgs(argv, io.env);
  if (!parsed.ok) {
    if (parsed.help) {
      io.out(USAGE);
      return 0;
    }
    io.err.write(`simulate: ${parsed.errors.join('\n          ')}\n\n${USAGE}\n`);
    return 2;
  }
  const o = parsed.options;
  let standIn: RealtimeStandIn | null = null;
  let bridge: SpawnedBridge | null = null;
  try {
    if (o.url) {
      const problem = await checkTarget(o.url);
      if (problem) {
        io.err.write(`simulate: ${problem}\n`);
        return 2;
      }
    }
    if (o.localRealtime) {
      standIn = await startRealtimeStandIn({ port: o.realtimePort });
      if (!o.spawnBridge) io.err.write(`Realtime stand-in at ${standIn.url} (the bridge must use OPENAI_REALTIME_URL=${standIn.url})\n`);
    }
    if (o.spawnBridge) {
      bridge = await spawnBridge({
        realtimeUrl: (standIn as RealtimeStandIn).url,
        env: { MAX_CALLS: String(Math.max(100, o.concurrency)), MAX_STREAMS_PER_IP: String(Math.max(50, o.concurrency)) },
      });
      io.err.write(`spawned a bridge at ${bridge.baseUrl} (pid ${bridge.pid}) wired to the stand-in at ${(standIn as RealtimeStandIn).url}\n`);
    }
    const target = o.url ?? new URL((bridge as SpawnedBridge).baseUrl);
    const authToken = bridge ? bridge.authToken : o.authToken;
    const preflight = await checkBridge(target, o, authToken);
    if (preflight) {
      io.err.write(`simulate: ${preflight}\n`);
      return 1;
    }
    const progress = progressPrinter(io.err);
    let report: SimulationReport;
    try {
      report = await runSimulation({
        target,
        publicUrl: o.publicUrl,
        authToken,
        calls: o.calls,
        durationS: o.durationS,
        concurrency: o.concurrency,
        rampPerSecond: o.rampPerSecond,
        gapMs: o.gapMs,
        standIn: standIn ?? undefined,
        flood: o.flood ?? undefined,
        metricsToken: o.metricsToken,
        onProgress: (p) => progress.update(p),
        signal: io.signal,
      });
    } finally {
      progress.done();
    }
    if (o.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) io.out(line);
    return report.totals.failed > 0 || (report.flood?.byStatus['101'] ?? 0) > 0 ? 1 : 0;
  } catch (err) {
    io.err.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    if (bridge) await bridge.stop();
    if (standIn) await standIn.close();
  }
}

/**
 * One webhook before the run, so a wrong URL, token or PUBLIC_URL is one clear message instead of
 * N failed calls. Uses a throwaway CallSid; the bridge mints a token nobody uses (it expires).
 */
async function checkBridge(target: URL, o: SimulateOptions, authToken: string | undefined): Promise<string | null> {
  if (o.calls === 0) return null;
  try {
    const res = await postWebhook({
      target,
      publicUrl: o.publicUrl,
      authToken,
      path: '/twilio/stream-status',
      params: { CallSid: 'CA' + '0'.repeat(32), StreamSid: 'MZ' + '0'.repeat(32), StreamEvent: 'simulator-preflight' },
    });
    if (res.status === 204 || res.status === 200) return null;
    if (res.status === 403) {
      return (
        `the bridge refused a signed webhook (HTTP 403: ${res.body.trim().slice(0, 200)}).\n` +
        `  ${authToken ? 'Check --auth-token (its TWILIO_AUTH_TOKEN) and --public-url (its PUBLIC_URL).' : 'It checks signatures: pass its TWILIO_AUTH_TOKEN with --auth-token.'}`
      );
    }
    if (res.status === 404) return `${target.origin} answered 404 for /twilio/stream-status: is this the voice bridge?`;
    return `the bridge answered a webhook with HTTP ${res.status}: ${res.body.trim().slice(0, 300)}`;
  } catch (err) {
    return err instanceof WebhookError ? err.message : (err as Error).message;
  }
}
