/**
 * The bridge as the benchmarks run it: the real app (buildApp with the environment's config,
 * exactly as server.ts builds it) plus two loopback-only routes that report what only the
 * process itself knows — event-loop lag, heap, live handles — and force a GC (--expose-gc).
 * SIGTERM closes the app and exits 0, so `--cpu-prof` gets to write its profile.
 */
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { loopbackOnly, processStats, startLagMonitor } from './process-stats.js';

/** app.close() may wait on live sockets; the benchmark has hung them up already, so don't wait long. */
const CLOSE_GRACE_MS = 3000;

export type { BridgeStats } from './process-stats.js';

const config = loadConfig(process.env);
const app = await buildApp(config);
const lag = startLagMonitor();

/** Counter values as `name{label="v",…}` → value, for the series the benchmarks read. */
async function counters(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const m = app.metrics;
  for (const metric of [m.wsMessages, m.audioFrames, m.audioBytes, m.droppedFrames, m.droppedBytes, m.rejections, m.callsEnded, m.invalidFrames]) {
    const data = await metric.get();
    for (const v of data.values) {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}="${String(x)}"`)
        .join(',');
      out[`${data.name}{${labels}}`] = v.value;
    }
  }
  return out;
}

app.get('/__bench/stats', async (request, reply) => {
  if (!loopbackOnly(request.socket.remoteAddress)) return reply.code(403).send();
  const stats = processStats(lag, { sessions: app.sessions.size, liveCalls: app.registry.live, counters: await counters() });
  if ((request.query as Record<string, string>)['reset'] === '1') lag.reset();
  return stats;
});

app.post('/__bench/gc', async (request, reply) => {
  if (!loopbackOnly(request.socket.remoteAddress ?? '')) return reply.code(403).send();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return reply.code(501).send({ error: 'run with --expose-gc' });
  gc();
  gc();
  return process.memoryUsage();
});

/** Longest profile one request may ask for, s. */
const MAX_PROFILE_S = 60;

/**
 * A V8 CPU profile of the next `seconds` (the same profiler as `node --cpu-prof`, scoped to the
 * measured window instead of the whole process life, so start-up does not pollute it).
 */
app.post('/__bench/profile', async (request, reply) => {
  if (!loopbackOnly(request.socket.remoteAddress ?? '')) return reply.code(403).send();
  const seconds = Math.min(MAX_PROFILE_S, Math.max(1, Number((request.query as Record<string, string>)['seconds'] ?? 10)));
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    // 1 ms sampling: enough resolution for per-message work, little overhead.
    await session.post('Profiler.setSamplingInterval', { interval: 1000 });
    await session.post('Profiler.start');
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
});

process.once('SIGTERM', () => {
  const force = setTimeout(() => process.exit(0), CLOSE_GRACE_MS);
  app
    .close()
    .catch((err: unknown) => app.log.error({ err }, 'bench bridge: close failed'))
    .finally(() => {
      clearTimeout(force);
      process.exit(0);
    });
});

await app.listen({ host: config.host, port: config.port });
