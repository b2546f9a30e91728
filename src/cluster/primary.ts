/**
 * The primary process of WORKERS > 1 (node:cluster): it forks the workers, which each build the
 * app and listen on the shared port, and never serves HTTP itself. It accepts each connection and
 * hands it to the next worker in turn (round robin, set explicitly: the kernel's own spread is
 * uneven), and holds what the workers share: the guard's state without Redis (guard/
 * primary-store.ts), the host's call slots (host-slots.ts), and the host's metrics
 * (cluster-metrics.ts), whose minute line it logs for all.
 *
 * Signals, as for one process (ops/shutdown-policy.ts): the first SIGTERM/SIGINT is passed to
 * every worker, which drains as one process does, and the primary exits when the last worker has:
 * 0 when every worker drained cleanly, 1 otherwise. A repeat within 1 s is an echo (npm, or a
 * group signal that reached the workers directly too) and is ignored; a real second signal kills
 * the workers and exits at once with 128 + its number. SIGHUP is passed on.
 *
 * A worker that exits unexpectedly is replaced (restart-policy.ts paces a crash loop), and its
 * calls' end is logged here: the primary knows them from their host slots. A worker that exits
 * before any worker has listened means the service cannot start: exit 1.
 */
import type { Assistants } from '../assistants/assistant.js';
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { systemClock } from '../clock.js';
import { guardLimits } from '../guard/limits.js';
import { MemoryStore } from '../guard/memory-store.js';
import { serveGuardStore } from '../guard/primary-store.js';
import { exitOnProcessFaults } from '../ops/process-faults.js';
import { onSignal, RUNNING, type ShutdownSignal, type ShutdownState } from '../ops/shutdown-policy.js';
import { startMinuteSummary } from '../ops/minute-summary.js';
import { signatureWarning, startupSummary, STARTUP_SUMMARY_MSG } from '../ops/startup-summary.js';
import { Channel, portOfWorker } from './channel.js';
import { gatherHost, hostSnapshot, serveHostMetrics } from './cluster-metrics.js';
import { HOST_LIVE_NOTE, HostSlots, type EndedCall } from './host-slots.js';
import { createPrimaryMetrics } from './primary-metrics.js';
import { NO_EXITS, onWorkerExit } from './restart-policy.js';
import { WORKER_ENV } from './worker.js';

/** Calls logged one line each when their worker exits; past this, one line counts the rest. */
export const MAX_LOGGED_CALL_ENDS = 1_000;
/** After the drain deadline and app.close()'s own (10 s), how long more before stragglers are killed, ms. */
const SHUTDOWN_MARGIN_MS = 30_000;

interface Place {
  readonly n: number;
  worker: Worker | undefined;
  channel: Channel | undefined;
  listened: boolean;
  /** A replacement waiting for its delay. */
  restart: NodeJS.Timeout | undefined;
}

/** @param assistants the profiles as the primary read them at start, for the start-up line. */
export function runPrimary(config: Config, assistants: Assistants): void {
  const log = createLogger(config).child({ role: 'primary' });
  // A fault here must not take every call on the host with it: the workers drain first, then the
  // primary exits 1 for the supervisor. (They decide from their own memory if it stops answering.)
  exitOnProcessFaults(log, { exit: () => drain({ cause: 'fault' }) });
  const unsigned = signatureWarning(config);
  if (unsigned) log[unsigned.level](unsigned.msg);
  if (!config.prewarm && !config.prewarmExplicit) {
    log.info(
      { workers: config.workers },
      'pre-warm off: with WORKERS > 1 a webhook and its stream reach different workers, so a pre-warmed session would be wasted (PREWARM=on forces it)',
    );
  } else if (config.prewarm) {
    log.warn({ workers: config.workers }, 'PREWARM=on with WORKERS > 1: most pre-warms reach another worker than their stream; watch voice_bridge_prewarm_total');
  }

  const guardMemory = config.redisUrl ? undefined : new MemoryStore(guardLimits(config));
  const slots = new HostSlots(config, systemClock.mono);
  const metrics = createPrimaryMetrics({ streamsByWorker: () => slots.streamsByWorker(), workers: config.workers });
  const places: Place[] = Array.from({ length: config.workers }, (_, i) => ({
    n: i + 1,
    worker: undefined,
    channel: undefined,
    listened: false,
    restart: undefined,
  }));
  const channels = (): Channel[] => places.flatMap((p) => (p.channel?.connected ? [p.channel] : []));
  const running = (): Worker[] => places.flatMap((p) => (p.worker ? [p.worker] : []));
  const gather = () => gatherHost(channels(), { own: metrics.registry, setScraped: (n) => metrics.workersScraped.set(n) });

  // The host's live count, told to every worker once per turn at most however many calls change.
  let tellPending = false;
  slots.onChange(() => {
    if (tellPending) return;
    tellPending = true;
    setImmediate(() => {
      tellPending = false;
      for (const channel of channels()) channel.note(HOST_LIVE_NOTE, slots.live);
    });
  });

  let everListened = false;
  let restarts = NO_EXITS;
  let state: ShutdownState = RUNNING;
  let shutdownClean = true;

  cluster.schedulingPolicy = cluster.SCHED_RR;

  function fork(place: Place): void {
    place.restart = undefined;
    const worker = cluster.fork({ [WORKER_ENV]: String(place.n) });
    const channel = new Channel(portOfWorker(worker), {
      onNoteError: (err, kind) => log.error({ worker: place.n, kind, err }, "a worker's note could not be handled"),
    });
    place.worker = worker;
    place.channel = channel;
    place.listened = false;
    if (guardMemory) serveGuardStore(channel, guardMemory);
    slots.serve(channel, place.n);
    serveHostMetrics(channel, gather);
    metrics.workers.set(running().length);
    const pid = worker.process.pid;
    log.info({ worker: place.n, pid }, 'worker started');
    // The worker's 'message' listener is in place once it listens; until then a note could be lost.
    worker.on('listening', (address) => {
      place.listened = true;
      channel.note(HOST_LIVE_NOTE, slots.live);
      log.info({ worker: place.n, pid }, 'worker listening');
      if (!everListened && places.every((p) => p.listened)) {
        everListened = true;
        const family = address.addressType === 6 ? 'IPv6' : 'IPv4';
        const where = { address: String(address.address ?? config.host), family, port: address.port };
        log.info({ ...startupSummary(config, where, assistants), workers: config.workers, prewarm: config.prewarm }, STARTUP_SUMMARY_MSG);
      }
    });
    // A send to a worker that has just gone; its exit is handled below.
    worker.on('error', (err) => log.warn({ worker: place.n, pid, err: { message: err.message } }, 'worker channel error'));
    worker.once('exit', (code, signal) => exited(place, worker, code, signal));
  }

  function exited(place: Place, worker: Worker, code: number | null, signal: string | null): void {
    if (place.worker !== worker) return;
    place.worker = undefined;
    place.channel?.close();
    place.channel = undefined;
    metrics.workers.set(running().length);
    const ended = slots.releaseWorker(place.n);
    const pid = worker.process.pid;
    if (state.phase === 'stopping') {
      // Killed by our own forwarded signal before it could listen (and install its handlers) is clean too.
      const clean = code === 0 || (!place.listened && signal === state.signal);
      shutdownClean &&= clean;
      log[clean ? 'info' : 'error']({ worker: place.n, pid, code, signal }, clean ? 'worker finished' : 'worker did not drain cleanly');
      logEndedCalls(place.n, ended);
      if (running().length === 0) finish();
      return;
    }
    metrics.workerExits.inc();
    // A crash, or an operator's signal to one worker (which drained it: exit 0, no calls left).
    const level = code === 0 && ended.length === 0 ? 'warn' : 'error';
    log[level]({ worker: place.n, pid, code, signal, liveCalls: ended.length }, 'worker exited unexpectedly; its calls ended');
    logEndedCalls(place.n, ended);
    if (!everListened) {
      log.fatal({ worker: place.n, code, signal }, 'a worker exited before the server ever listened: exiting (see its error above)');
      for (const w of running()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    const next = onWorkerExit(restarts, systemClock.mono());
    restarts = next.state;
    log.info({ worker: place.n, delayMs: next.delayMs }, 'replacing the worker');
    place.restart = setTimeout(() => fork(place), next.delayMs);
  }

  function logEndedCalls(n: number, ended: readonly EndedCall[]): void {
    if (ended.length === 0) return;
    metrics.callsEnded.labels('worker_exit').inc(ended.length);
    for (const call of ended.slice(0, MAX_LOGGED_CALL_ENDS)) {
      log.warn({ worker: n, callSid: call.callSid, reason: 'worker_exit', durationMs: call.heldMs }, 'call ended');
    }
    if (ended.length > MAX_LOGGED_CALL_ENDS) log.warn({ worker: n, more: ended.length - MAX_LOGGED_CALL_ENDS }, 'more calls ended with it');
  }

  function finish(): void {
    const code = shutdownClean ? 0 : 1;
    log.info({ code }, 'every worker has finished; exiting');
    process.exit(code);
  }

  /** Passes `signal` to every worker (each drains as one process does); exits when the last has finished. */
  function drain(why: { readonly signal: ShutdownSignal } | { readonly cause: 'fault' }): void {
    if ('cause' in why) {
      shutdownClean = false; // exit 1 whatever the workers do
      if (state.phase === 'stopping') return;
      state = { phase: 'stopping', signal: 'SIGTERM', at: systemClock.mono() };
    }
    const signal = 'signal' in why ? why.signal : 'SIGTERM';
    log.info({ signal, workers: running().length }, 'shutdown signal received; passing it to every worker');
    for (const place of places) clearTimeout(place.restart);
    for (const w of running()) w.process.kill(signal);
    if (running().length === 0) return finish();
    const limitMs = config.drainTimeoutSeconds * 1000 + 10_000 + SHUTDOWN_MARGIN_MS;
    setTimeout(() => {
      log.error({ workers: running().length, limitMs }, 'workers still running long after the drain deadline: killing them');
      shutdownClean = false;
      for (const w of running()) w.process.kill('SIGKILL');
    }, limitMs).unref();
  }

  const onProcessSignal = (signal: ShutdownSignal): void => {
    const next = onSignal(state, signal, systemClock.mono());
    state = next.state;
    const { verdict } = next;
    if (verdict.action === 'ignore') {
      log.info({ signal }, 'repeat of the shutdown signal within 1 s (npm forwarding it); still draining');
    } else if (verdict.action === 'exit_now') {
      log.warn({ signal, liveCalls: slots.streams }, 'second shutdown signal: exiting now');
      for (const w of running()) w.process.kill('SIGKILL');
      process.exit(verdict.code);
    } else {
      drain({ signal });
    }
  };
  process.on('SIGTERM', onProcessSignal);
  process.on('SIGINT', onProcessSignal);
  process.on('SIGHUP', () => {
    log.info({ workers: running().length }, 'SIGHUP: passing it to every worker');
    for (const w of running()) w.process.kill('SIGHUP');
  });

  // Runs until the process exits (its timer is unref'd); the workers log none of their own.
  startMinuteSummary({ snapshot: async () => hostSnapshot(await gather()), fields: () => ({ workers: running().length }), log });

  for (const place of places) fork(place);
}
