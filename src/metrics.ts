/**
 * Metrics: Prometheus counters and gauges (prefix `voice_bridge_`), one registry per app so tests
 * and several apps in one process never share figures.
 *
 * Per-call counts (WebSocket messages, audio frames and bytes, drops) are not incremented here:
 * each call counts into its own `CallStats` (src/stream/call-stats.ts), and each counter's
 * `collect()` (run by `get()`, so by every scrape, the minute summary and tests) publishes what the
 * calls' totals grew by since the last collect. A frame is counted once, in one place; the figures
 * read are exact at every read, and between reads prom-client's own values simply lag.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CallCounters, type CallStats } from './stream/call-stats.js';

export type Direction = 'to_upstream' | 'to_twilio';
export type Peer = 'twilio' | 'upstream';

/**
 * Distinct `assistant` label values per app: a file holds at most 50 profiles (MAX_ASSISTANTS),
 * so this is four files' worth of names across reloads. Past it, a new name is counted as
 * OTHER_ASSISTANT_LABEL (and its calls still log their own name), so series stay bounded.
 */
export const MAX_ASSISTANT_LABELS = 200;
/** The label of names past MAX_ASSISTANT_LABELS; no profile name can start with "_". */
export const OTHER_ASSISTANT_LABEL = '_other';

/** One series of a per-call counter: its label values and how to read it from a call's stats. */
type Series = readonly [labels: readonly string[], read: (stats: CallStats) => number];

export interface Metrics {
  readonly registry: Registry;
  /** Every call's counters; the message, frame, byte, drop and discard counters below publish their totals. */
  readonly calls: CallCounters;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  /** WebSocket messages by peer (twilio/upstream) and direction (in = received by us, out = sent by us). */
  readonly wsMessages: Counter<'peer' | 'direction'>;
  readonly rejections: Counter<'reason'>;
  readonly liveCalls: Gauge;
  readonly callsStarted: Counter;
  readonly callsEnded: Counter<'reason'>;
  readonly audioFrames: Counter<'direction'>;
  readonly audioBytes: Counter<'direction'>;
  readonly droppedFrames: Counter<'direction'>;
  readonly droppedBytes: Counter<'direction'>;
  readonly discardedBytes: Counter<'direction'>;
  readonly invalidFrames: Counter<'reason'>;
  /** Realtime events ignored as invalid, by type (a known type or 'none') and reason (bounded sets). */
  readonly realtimeInvalidEvents: Counter<'type' | 'reason'>;
  readonly upstreamConnectSeconds: Histogram;
  readonly callDurationSeconds: Histogram;
  readonly guardStoreErrors: Counter<'op'>;
  /** HTTP connections counted against the per-address cap (not admitted streams, not trusted proxies). */
  readonly httpConnections: Gauge;
  /** 1 from the first SIGTERM/SIGINT until exit: the instance takes no new calls. */
  readonly draining: Gauge;
  /** What became of each pre-warmed upstream (calls/upstream-pool.ts). */
  readonly prewarms: Counter<'outcome'>;
  /** SIGHUP reloads of ASSISTANTS_FILE by outcome (ops/reload-assistants.ts). */
  readonly assistantReloads: Counter<'outcome'>;
  /** Calls whose stream started, by assistant profile. */
  readonly assistantCalls: Counter<'assistant'>;
  /** Model tokens from response.done usage, by direction (input/output), modality (text/audio/cached) and profile. */
  readonly modelTokens: Counter<'direction' | 'modality' | 'assistant'>;
  /** Estimated USD, by profile; only profiles with prices have a series. */
  readonly modelCost: Counter<'assistant'>;
  /** A profile name as an `assistant` label value (bounded by MAX_ASSISTANT_LABELS). */
  readonly assistantLabel: (name: string) => string;
}

export interface MetricsOptions {
  /** Collect process defaults and event-loop lag. Off in unit tests that build many apps. @default true */
  readonly processDefaults?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const p = 'voice_bridge_';
  if (opts.processDefaults !== false) {
    // Includes nodejs_eventloop_lag_* (monitorEventLoopDelay under the hood, no polling loop of ours).
    collectDefaultMetrics({ register: registry, prefix: p, eventLoopMonitoringPrecision: 20 });
  }
  const registers = [registry];
  const calls = new CallCounters();
  const assistantLabels = new Set<string>();
  /** Publishes each series' growth since the last collect (series keyed by their label values). */
  const publisher = (series: readonly Series[]) => {
    const published = new Map<string, number>();
    return function collect(this: Counter<string>): void {
      for (const [labels, read] of series) {
        const key = labels.join(' ');
        const total = calls.total(read);
        const delta = total - (published.get(key) ?? 0);
        if (delta <= 0) continue;
        published.set(key, total);
        this.labels(...labels).inc(delta);
      }
    };
  };
  return {
    registry,
    calls,
    httpRequests: new Counter({
      name: `${p}http_requests_total`,
      help: 'HTTP requests answered, by route pattern, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    wsMessages: new Counter({
      name: `${p}ws_messages_total`,
      help: 'WebSocket messages by peer (twilio, upstream) and direction (in: received, out: sent)',
      labelNames: ['peer', 'direction'],
      registers,
      collect: publisher([
        [['twilio', 'in'], (s) => s.twilioMessagesIn],
        [['twilio', 'out'], (s) => s.twilioMessagesOut],
        [['upstream', 'in'], (s) => s.upstreamMessagesIn],
        [['upstream', 'out'], (s) => s.upstreamMessagesOut],
      ]),
    }),
    rejections: new Counter({
      name: `${p}rejections_total`,
      help: 'Requests and upgrades refused by the guard or the stream session, by reason',
      labelNames: ['reason'],
      registers,
    }),
    liveCalls: new Gauge({ name: `${p}live_calls`, help: 'Calls with an open media stream', registers }),
    callsStarted: new Counter({ name: `${p}calls_started_total`, help: 'Media streams that sent a valid start', registers }),
    callsEnded: new Counter({
      name: `${p}calls_ended_total`,
      help: 'Calls ended, by end reason',
      labelNames: ['reason'],
      registers,
    }),
    audioFrames: new Counter({
      name: `${p}audio_frames_total`,
      help: 'Aggregated audio frames sent, by direction (to_upstream, to_twilio)',
      labelNames: ['direction'],
      registers,
      collect: publisher([
        [['to_upstream'], (s) => s.framesToUpstream],
        [['to_twilio'], (s) => s.framesToTwilio],
      ]),
    }),
    audioBytes: new Counter({
      name: `${p}audio_bytes_total`,
      help: 'µ-law audio bytes sent, by direction',
      labelNames: ['direction'],
      registers,
      collect: publisher([
        [['to_upstream'], (s) => s.bytesToUpstream],
        [['to_twilio'], (s) => s.bytesToTwilio],
      ]),
    }),
    droppedFrames: new Counter({
      name: `${p}dropped_frames_total`,
      help: 'Audio frames lost to a problem: receiver over BACKPRESSURE_BYTES, hold buffer full, or caller audio faster than real time',
      labelNames: ['direction'],
      registers,
      collect: publisher([
        [['to_upstream'], (s) => s.droppedToUpstream.frames],
        [['to_twilio'], (s) => s.droppedToTwilio.frames],
      ]),
    }),
    droppedBytes: new Counter({
      name: `${p}dropped_bytes_total`,
      help: 'µ-law bytes dropped, by direction',
      labelNames: ['direction'],
      registers,
      collect: publisher([
        [['to_upstream'], (s) => s.droppedToUpstream.bytes],
        [['to_twilio'], (s) => s.droppedToTwilio.bytes],
      ]),
    }),
    discardedBytes: new Counter({
      name: `${p}discarded_bytes_total`,
      help: 'µ-law bytes given up by design: model audio cleared at a barge-in, or audio still held when its call ended',
      labelNames: ['direction'],
      registers,
      collect: publisher([
        [['to_upstream'], (s) => s.discardedToUpstream],
        [['to_twilio'], (s) => s.discardedToTwilio],
      ]),
    }),
    invalidFrames: new Counter({
      name: `${p}invalid_frames_total`,
      help: 'Invalid frames received from Twilio, by reason',
      labelNames: ['reason'],
      registers,
    }),
    realtimeInvalidEvents: new Counter({
      name: `${p}realtime_invalid_events_total`,
      help: 'Realtime API events ignored because a field was missing, ill-typed, oversized or not base64, by type and reason',
      labelNames: ['type', 'reason'],
      registers,
    }),
    upstreamConnectSeconds: new Histogram({
      name: `${p}upstream_connect_seconds`,
      help: 'Time to open the Realtime WebSocket',
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10],
      registers,
    }),
    callDurationSeconds: new Histogram({
      name: `${p}call_duration_seconds`,
      help: 'Duration of calls from start to end',
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 3600],
      registers,
    }),
    guardStoreErrors: new Counter({
      name: `${p}guard_store_errors_total`,
      help: 'Guard store operations that failed or missed their deadline (the guard then used memory)',
      labelNames: ['op'],
      registers,
    }),
    httpConnections: new Gauge({
      name: `${p}http_connections`,
      help: 'Open HTTP connections counted against the per-address cap (admitted media streams and trusted proxies are not)',
      registers,
    }),
    assistantReloads: new Counter({
      name: `${p}assistants_reloads_total`,
      help: 'SIGHUP reloads of ASSISTANTS_FILE by outcome: reloaded, refused (the file had problems; the profiles in force stay), no_file (ASSISTANTS_FILE unset)',
      labelNames: ['outcome'],
      registers,
    }),
    prewarms: new Counter({
      name: `${p}prewarm_total`,
      help: 'Pre-warmed upstream sessions by outcome: adopted by their stream, expired (no stream in time), not_usable (failed or closed before adoption), discarded (the call ended first, or shutdown)',
      labelNames: ['outcome'],
      registers,
    }),
    draining: new Gauge({
      name: `${p}draining`,
      help: '1 while the instance drains after SIGTERM/SIGINT (no new calls; live ones run on), else 0',
      // WORKERS > 1: the host drains when any worker does (they drain together), not 2 for two.
      aggregator: 'max',
      registers,
    }),
    assistantCalls: new Counter({
      name: `${p}assistant_calls_total`,
      help: 'Calls whose media stream started, by assistant profile',
      labelNames: ['assistant'],
      registers,
    }),
    modelTokens: new Counter({
      name: `${p}model_tokens_total`,
      help: 'Realtime model tokens reported in response.done usage, by direction (input, output), modality (text, audio; cached: input tokens billed at the cached rate, not in text or audio) and assistant profile',
      labelNames: ['direction', 'modality', 'assistant'],
      registers,
    }),
    modelCost: new Counter({
      name: `${p}model_cost_total`,
      help: 'Estimated model cost in US dollars from the tokens and the prices configured for the assistant profile (MODEL_PRICES or the profile\'s prices); no series for profiles without prices',
      labelNames: ['assistant'],
      registers,
    }),
    assistantLabel(name) {
      if (assistantLabels.has(name)) return name;
      if (assistantLabels.size >= MAX_ASSISTANT_LABELS) return OTHER_ASSISTANT_LABEL;
      assistantLabels.add(name);
      return name;
    },
  };
}
