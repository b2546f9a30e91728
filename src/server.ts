/**
 * The process: load config and the assistant profiles, build the app, listen, drain on
 * SIGTERM/SIGINT and reload the profiles on SIGHUP. Nothing else lives here; the decisions are in src/ops (shutdown-policy.ts: what a signal means; drain.ts:
 * waiting for calls).
 *
 * Shutdown: first signal → drain (readyz 503, new calls refused in words, live calls go on for up
 * to DRAIN_TIMEOUT_SECONDS, then 1001) → app.close() → exit 0. A second signal exits at once.
 *
 * WORKERS > 1: this file is also the primary, which only supervises (src/cluster/primary.ts), and
 * each worker, which runs the flow above with its ties to the primary (src/cluster/worker.ts).
 */
import type { AddressInfo } from 'node:net';
import cluster from 'node:cluster';
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import { drainCalls } from './ops/drain.js';
import { signatureWarning, startupSummary, STARTUP_SUMMARY_MSG } from './ops/startup-summary.js';
import { onSignal, RUNNING, type ShutdownSignal, type ShutdownState } from './ops/shutdown-policy.js';
import { exitOnProcessFaults } from './ops/process-faults.js';
import { reloadAssistants } from './ops/reload-assistants.js';
import { AssistantBook } from './assistants/book.js';
import { AssistantsError } from './assistants/load.js';
import { runPrimary } from './cluster/primary.js';
import { joinCluster, workerNumber } from './cluster/worker.js';

/** app.close() after the drain only closes idle sockets and the listener; 10 s is ample, in ms. */
const CLOSE_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  // quiet: dotenv must not print to stdout, which carries JSON log lines only.
  dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let assistants: AssistantBook;
  try {
    // Checked before anything starts (in the primary too, so a bad file exits 1 once).
    assistants = AssistantBook.open(config.assistantsFile, config);
  } catch (err) {
    if (err instanceof AssistantsError) {
      process.stderr.write(`${err.message}
`);
      process.exit(1);
    }
    throw err;
  }
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, assistants.current());
  const n = workerNumber();
  const worker = n === undefined ? undefined : joinCluster(config, n);
  const app = await buildApp(config, { ...worker?.deps, assistants });
  exitOnProcessFaults(app.log);
  // Reads ASSISTANTS_FILE again: new calls get the new profiles, live calls keep theirs (a
  // worker gets the SIGHUP from its primary).
  process.on('SIGHUP', () => reloadAssistants(assistants, app.log, app.metrics));
  // A worker's primary says these once for all.
  const unsigned = worker ? null : signatureWarning(config);
  if (unsigned) app.log[unsigned.level](unsigned.msg);

  let state: ShutdownState = RUNNING;
  const onProcessSignal = (signal: ShutdownSignal) => {
    const next = onSignal(state, signal, systemClock.mono());
    state = next.state;
    const { verdict } = next;
    if (verdict.action === 'ignore') {
      app.log.info({ signal }, 'repeat of the shutdown signal within 1 s (npm forwarding it); still draining');
    } else if (verdict.action === 'exit_now') {
      app.log.warn({ signal, liveCalls: app.sessions.size }, 'second shutdown signal: exiting now');
      process.exit(verdict.code);
    } else {
      app.log.info({ signal }, 'shutdown signal received');
      shutdown(app, config).then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    }
  };
  process.on('SIGTERM', onProcessSignal);
  process.on('SIGINT', onProcessSignal);

  await app.listen({ host: config.host, port: config.port });
  if (!worker) app.log.info(startupSummary(config, app.server.address() as AddressInfo, assistants.current()), STARTUP_SUMMARY_MSG);
}

async function shutdown(app: Awaited<ReturnType<typeof buildApp>>, config: Config): Promise<void> {
  await drainCalls(app, { timeoutMs: config.drainTimeoutSeconds * 1000 });
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    deadline = setTimeout(() => resolve('timeout'), CLOSE_DEADLINE_MS);
  });
  const closed = await Promise.race([app.close().then(() => 'closed' as const), timedOut]);
  clearTimeout(deadline);
  if (closed === 'timeout') throw new Error(`app.close() did not finish within ${CLOSE_DEADLINE_MS} ms`);
  app.log.info('closed; exiting');
}

main().catch((err: unknown) => {
  process.stderr.write(`voice-bridge failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
